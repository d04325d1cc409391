"""The Spark Structured Streaming job: source → parse/validate → fan-out → sharded state → sinks.

The same code runs embedded (``sensorcast run``: the replay source, local mode) and fed by Kafka
(``sensorcast stream``: ``run_kafka`` below); only the source and the sinks differ. Model state lives in
Spark's state store through ``applyInPandasWithState``, grouped by *shard* of target sensors, so each
call advances a vectorised model bank one time step at a time (design §1, scale note).

Time steps may arrive split across micro-batches (Kafka), so a shard buffers readings in its state and
forecasts a time step once it is *closed*: more than the allowed lateness (``spark.allowed_lateness``,
default 1 h) behind the newest time step seen, or covered by a close tick (records.py). Readings of a
time step already forecast are dead-lettered as ``late`` (design §4).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import config as config_mod
from . import forecasts
from .evaluate import new_engine
from .network import Network
from .records import TICK
from .sinks import FanOut
from .sinks.parquet import ParquetSink

log = logging.getLogger(__name__)

TYPED_SCHEMA = "ts STRING, epoch LONG, sensor STRING, measures MAP<STRING, DOUBLE>, close BOOLEAN"
LOOSE_SCHEMA = "ts STRING, epoch STRING, sensor STRING, measures STRING"  # what was sent, whatever its type
NON_NUMERIC_NUMBER = r"([:,\[]\s*)[-+]?(NaN|Infinity)\b"  # a NaN/Infinity value token after : , or [
ISO_TS = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
STATE_SCHEMA = "blob BINARY, last_epoch LONG, newest_ms LONG, pending BINARY"
DEAD_SHARD = -1
DEFAULT_LATENESS = "1h"
__all__ = ["ParquetSink", "forecast_stream", "run_kafka", "session"]


def output_schema(models: list[str]) -> str:
    preds = ", ".join(f"{forecasts.pred_column(m)} DOUBLE" for m in models)
    return ("kind STRING, ts TIMESTAMP, epoch LONG, sensor STRING, measure STRING, actual DOUBLE, "
            f"{preds}, chosen STRING, value DOUBLE, flag STRING, residual_z DOUBLE, "
            "reason STRING, raw STRING")


def lateness_ms(cfg: dict) -> int:
    """``spark.allowed_lateness``: seconds, or a duration such as ``1h``, ``30min``, ``0``."""
    raw = cfg["spark"].get("allowed_lateness", DEFAULT_LATENESS)
    try:
        td = pd.Timedelta(seconds=float(raw)) if isinstance(raw, int | float) else pd.Timedelta(str(raw))
    except ValueError as exc:
        raise config_mod.ConfigError(f"spark.allowed_lateness: expected seconds or e.g. 1h, 30min; "
                                     f"got {raw!r}") from exc
    if td < pd.Timedelta(0):
        raise config_mod.ConfigError(f"spark.allowed_lateness: must be >= 0; got {raw!r}")
    return int(td / pd.Timedelta(milliseconds=1))


@dataclass
class ShardPlan:
    """What one shard's engine reads: target sensors, and where each (sensor, measure) input lands."""

    sensors: list[int]
    col: dict[tuple[str, str], int]  # (sensor, measure) → input column
    target_sensor: np.ndarray  # (N,) names
    target_measure: np.ndarray  # (N,) names
    home: frozenset[str]  # sensors whose own streams this shard forecasts (it dead-letters their readings)


def shard_plans(net: Network, n_shards: int) -> dict[int, ShardPlan]:
    shard = net.shard_of(n_shards)
    plans = {}
    n_m = len(net.measures)
    for sh in range(n_shards):
        sensors = [int(i) for i in np.flatnonzero(shard == sh)]
        if not sensors:
            continue
        _, targets, inputs = net.layout(sensors)
        col = {(net.sensors[g // n_m], net.measures[g % n_m]): i for i, g in enumerate(inputs)}
        plans[sh] = ShardPlan(sensors, col, np.array([net.sensors[g // n_m] for g in targets], dtype=object),
                              np.array([net.measures[g % n_m] for g in targets], dtype=object),
                              frozenset(net.sensors[i] for i in sensors))
    return plans


@dataclass
class Pending:
    """Buffered inputs of time steps not yet forecast: epoch, ts (ms), input column (-1: marks the epoch only)
    and value, one entry per reading."""

    epoch: np.ndarray
    ts: np.ndarray
    col: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls) -> Pending:
        z = np.empty(0, dtype=np.int64)
        return cls(z, z, z, np.empty(0))

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, epoch=self.epoch, ts=self.ts, col=self.col, value=self.value)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes | None) -> Pending:
        if not blob:
            return cls.empty()
        with np.load(io.BytesIO(bytes(blob))) as d:
            return cls(d["epoch"], d["ts"], d["col"], d["value"])

    def concat(self, other: Pending) -> Pending:
        return Pending(*(np.concatenate([a, b]) for a, b in
                         zip((self.epoch, self.ts, self.col, self.value),
                             (other.epoch, other.ts, other.col, other.value), strict=True)))

    def take(self, mask: np.ndarray) -> Pending:
        return Pending(self.epoch[mask], self.ts[mask], self.col[mask], self.value[mask])


def make_state_fn(net: Network, cfg: dict, n_shards: int, models: list[str]) -> Callable:
    """The ``applyInPandasWithState`` function; the closure carries the network and config."""
    plans = shard_plans(net, n_shards)
    names = [c.split(" ")[0] for c in output_schema(models).split(", ")]
    late_ms = lateness_ms(cfg)

    def dead(pdf: pd.DataFrame, reason: str | pd.Series) -> pd.DataFrame:
        out = pd.DataFrame({n: None for n in names}, index=pdf.index)
        out["kind"] = "dead-letter"
        out["ts"] = pd.to_datetime(pdf.ts_ms, unit="ms")
        out["epoch"], out["sensor"], out["measure"] = pdf.epoch, pdf.sensor, pdf.measure
        out["actual"] = pdf.value
        out["reason"], out["raw"] = reason, pdf.raw
        return out[names]

    def fn(key: tuple, pdfs: Iterator[pd.DataFrame], state) -> Iterator[pd.DataFrame]:
        # pyspark's own pandas serializer concatenates all-NA columns (FutureWarning in pandas 2.3)
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        shard = int(key[0])
        pdf = pd.concat(list(pdfs), ignore_index=True)
        if shard == DEAD_SHARD:
            yield dead(pdf, pdf.reason)
            return
        plan = plans[shard]
        eng, _, _ = new_engine(net, cfg, plan.sensors)
        last_epoch, newest, pending = -1, np.iinfo(np.int64).min, Pending.empty()
        if state.exists:
            blob, last_epoch, newest, pend = state.get
            eng.from_bytes(bytes(blob))
            pending = Pending.from_bytes(pend)
        epoch = pdf.epoch.to_numpy(np.int64)
        sensor = pdf.sensor.to_numpy()
        tick = sensor == TICK
        home = pdf.sensor.isin(plan.home).to_numpy()
        late = epoch <= last_epoch
        if (late & home).any():  # late ticks carry no reading: dropped without a word
            yield dead(pdf[late & home], "late")
        close = pdf.close.fillna(False).to_numpy(bool) & ~late
        close_to = int(epoch[close].max()) if close.any() else -1
        pdf, epoch, tick, home = pdf[~late], epoch[~late], tick[~late], home[~late]
        if len(pdf):
            newest = max(newest, int(pdf.ts_ms.max()))
        keys = zip(sensor[~late], pdf.measure.to_numpy(), strict=True)
        col = np.array([-1 if t else plan.col.get(k, -1) for t, k in zip(tick, keys, strict=True)], dtype=np.int64)
        new = Pending(epoch, pdf.ts_ms.to_numpy(np.int64), col, pdf.value.to_numpy(float))
        # duplicates of a buffered or earlier reading of the same (epoch, input): the first one counts
        both = pending.concat(new)
        is_reading = both.col >= 0
        flat = both.epoch * (len(eng.layout.lo) + 1) + np.where(is_reading, both.col, len(eng.layout.lo))
        _, first = np.unique(flat, return_index=True)
        keep = np.zeros(len(flat), dtype=bool)
        keep[first] = True
        dup_new = ~keep[len(pending.epoch):] & (col >= 0)
        if (dup_new & home).any():
            yield dead(pdf[dup_new & home], "duplicate")
        both = both.take(keep)
        if not len(both.epoch):
            state.update((eng.to_bytes(), int(last_epoch), int(newest), None))
            return
        epochs, t_idx = np.unique(both.epoch, return_inverse=True)
        ts = np.full(len(epochs), np.iinfo(np.int64).max)
        np.minimum.at(ts, t_idx, both.ts)
        closed = (newest - ts > late_ms) | (epochs <= close_to)
        n_closed = int(np.flatnonzero(closed).max()) + 1 if closed.any() else 0  # a prefix, in epoch order
        rest = both.take(t_idx >= n_closed)
        if n_closed == 0:
            state.update((eng.to_bytes(), int(last_epoch), int(newest), rest.to_bytes()))
            return
        epochs, ts = epochs[:n_closed], ts[:n_closed]
        use = (t_idx < n_closed) & (both.col >= 0)
        y = np.full((n_closed, len(eng.layout.lo)), np.nan)
        y[t_idx[use], both.col[use]] = both.value[use]
        n = eng.layout.n
        preds = np.empty((n_closed, len(eng.models), n))
        actual, value, z = (np.empty((n_closed, n)) for _ in range(3))
        flag = np.empty((n_closed, n), dtype=np.int8)
        for i in range(n_closed):
            out = eng.step(y[i])
            preds[i], actual[i], value[i], flag[i], z[i] = out.preds, out.actual, out.value, out.flag, out.z
        state.update((eng.to_bytes(), int(epochs[-1]), int(newest), rest.to_bytes() if len(rest.epoch) else None))
        frame = forecasts.frame(ts.astype("datetime64[ms]"), epochs, plan.target_sensor, plan.target_measure,
                                eng.models, eng.fill_model, preds, actual, value, flag, z)
        frame.insert(0, "kind", "forecast")
        frame["reason"] = None
        frame["raw"] = None
        yield frame[names]

    return fn


def session(master: str = "local[2]", app: str = "sensorcast", shuffle_partitions: int = 2,
            extra: dict | None = None):
    """A SparkSession for the job (local mode unless ``master`` says otherwise)."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(master).appName(app)
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.streaming.stateStore.providerClass",
                       "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider")
               .config("spark.driver.memory", "2g")
               .config("spark.sql.session.timeZone", "UTC"))
    for k, v in (extra or {}).items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    quiet_loggers(spark)
    return spark


def quiet_loggers(spark) -> None:
    """Silence warnings that say nothing to a user: the embedded replay source ships each slice inside the
    task, so every batch would warn that it 'broadcasts a large task binary'; the Kafka admin client warns
    of every config key the source passes through."""
    jvm = spark.sparkContext._jvm
    level = jvm.org.apache.logging.log4j.Level.ERROR
    for name in ("org.apache.spark.scheduler.DAGScheduler", "org.apache.kafka.clients.admin.AdminClientConfig",
                 "org.apache.kafka.clients.consumer.ConsumerConfig", "org.apache.kafka.clients.NetworkClient"):
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, level)


def parse_readings(raw):
    """(key, value) rows → one row per record with the typed fields and the reason it is bad (null if good).

    A good record is parsed once; the other parses that tell *why* a record is bad (as a JSON object at all,
    with loose types) sit in the branch that only bad records reach, which makes parsing ~10x cheaper."""
    from pyspark.sql import functions as F

    text = F.col("value").cast("string")
    parsed = raw.select(text.alias("raw"), F.from_json(text, TYPED_SCHEMA).alias("r"))
    r = F.col("r")
    typed = r.ts.isNotNull() & r.epoch.isNotNull() & r.sensor.isNotNull() & r.measures.isNotNull()
    ts_ok = r.ts.rlike(ISO_TS) & F.try_to_timestamp(r.ts).isNotNull()
    finite = ~F.exists(F.map_values(r.measures), lambda x: F.isnan(x) | (F.abs(x) == float("inf")))
    # json_object_keys is null for anything but a JSON object, and for NaN/Infinity numbers too (which
    # from_json takes): those are still objects, so they are checked with such numbers replaced by 0
    keys = F.json_object_keys(F.regexp_replace(F.col("raw"), NON_NUMERIC_NUMBER, "$1 0"))
    s = F.from_json(F.col("raw"), LOOSE_SCHEMA)
    why = (F.when(keys.isNull(), "malformed JSON")
           .when(s.ts.isNull() | s.epoch.isNull() | s.sensor.isNull() | s.measures.isNull(), "missing fields")
           .when(r.epoch.isNull(), "bad epoch")
           .when(r.measures.isNull(), "non-numeric value")
           .when(~ts_ok, "bad timestamp")
           .when(~finite, "non-finite value")
           .otherwise("malformed JSON"))
    reason = F.when(typed & ts_ok & finite, F.lit(None).cast("string")).otherwise(why)
    return parsed.select("raw", r.ts.alias("ts"), r.epoch.alias("epoch"), r.sensor.alias("sensor"),
                         r.measures.alias("measures"), F.coalesce(r.close, F.lit(False)).alias("close"),
                         reason.alias("reason"))


def forecast_stream(spark, raw, net: Network, cfg: dict, models: list[str]):
    """From a (key, value) stream of reading records to the stream of output rows (kind column:
    ``forecast`` or ``dead-letter``)."""
    from pyspark.sql import functions as F
    from pyspark.sql.streaming.state import GroupStateTimeout

    n_shards = int(cfg["spark"]["shards"])
    readers = net.readers_of(n_shards)
    routes = [(s, int(sh)) for s, shards in readers.items() for sh in shards]
    routes += [(TICK, sh) for sh in range(n_shards)]
    route_df = F.broadcast(spark.createDataFrame(routes, "rsensor STRING, shard INT"))
    measures = list(net.measures)

    # one pass over the input: known good readings fan out to their shards' rows (one per measure), bad and
    # unknown-sensor records become one dead-letter row each (a union of three filtered branches of the same
    # input would read and parse every micro-batch three times)
    checked = parse_readings(raw)
    bad = F.col("reason").isNotNull()
    joined = (checked.withColumn("ts_ms", F.when(~bad, F.unix_millis(F.try_to_timestamp("ts"))))
              .join(route_df, (F.col("sensor") == F.col("rsensor")) & ~bad, "left"))
    why = F.when(bad, F.col("reason")).when(F.col("shard").isNull(), F.lit("unknown sensor"))
    ok = why.isNull()
    unioned = (joined.select(
        F.when(~bad, F.col("ts_ms")).alias("ts_ms"), F.when(~bad, F.col("epoch")).alias("epoch"),
        F.when(~bad, F.col("sensor")).alias("sensor"),
        F.explode_outer(F.when(ok, F.col("measures"))).alias("measure", "value"),
        F.when(bad, F.lit(False)).otherwise(F.col("close")).alias("close"), why.alias("reason"),
        F.when(~ok, F.col("raw")).alias("raw"),  # good readings travel without their raw text
        F.coalesce(F.col("shard"), F.lit(DEAD_SHARD)).alias("shard"))
        .filter(F.col("measure").isin(measures) | F.col("measure").isNull()))
    fn = make_state_fn(net, cfg, n_shards, models)
    return unioned.groupBy("shard").applyInPandasWithState(
        fn, output_schema(models), STATE_SCHEMA, "append", GroupStateTimeout.NoTimeout)


def models_of(cfg: dict) -> list[str]:
    from .models import MODEL_NAMES

    return [m for m in MODEL_NAMES if m in config_mod.engine_models(cfg)]


# ---------------------------------------------------------------- sensorcast stream (Kafka-fed)

@dataclass
class KafkaOptions:
    """Where the stream reads and writes (the ``sensorcast stream`` options)."""

    bootstrap: str
    input_topic: str = "sensor-readings"
    output_topic: str | None = "sensor-forecasts"
    dead_letter_topic: str | None = "sensor-dead-letter"
    starting_offsets: str = "earliest"
    checkpoint: str = "out/stream/checkpoint"
    parquet: str | None = None
    trigger: str | None = None  # processing-time interval, e.g. "5 seconds"; None: as fast as possible
    max_offsets_per_trigger: int | None = None
    idle_stop: float | None = None  # stop gracefully after this many seconds without input (batch-like runs)


class GracefulStop:
    """SIGTERM/SIGINT → stop between micro-batches (the running one finishes and commits), exit 0."""

    def __init__(self) -> None:
        self.requested = False
        self.why = ""

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True
        self.why = signal.Signals(signum).name
        print(f"sensorcast stream: {self.why}: stopping after the current micro-batch", file=sys.stderr, flush=True)


def wait_for(query, fan: FanOut, stop: GracefulStop, idle_stop: float | None, poll: float = 0.2) -> None:
    """Block until the query fails, or a stop is asked for (signal or idle) and no batch is running."""
    while query.isActive:
        idle = (idle_stop is not None and fan.last_input_at > 0
                and time.time() - fan.last_input_at > idle_stop)
        if (stop.requested or idle) and not query.status["isTriggerActive"]:
            if idle and not stop.requested:
                stop.why = f"idle for {idle_stop:g} s"
            query.stop()
            break
        time.sleep(poll)
    with contextlib.suppress(Exception):
        query.awaitTermination(60)


def run_kafka(cfg: dict, opts: KafkaOptions, net: Network, extra_sinks: Sequence = (),
              progress: bool = True) -> int:
    """``sensorcast stream``: Kafka source → the job → Kafka (+ Parquet, + extra sinks); returns the exit code.

    The sensor layout (sensors and their neighbours) is ``net``, built from the same ``--dataset``/``--config``
    as ``sensorcast run``: the stream must know every sensor and its neighbours before the first reading
    arrives (shards and fan-out are fixed at start), and data-driven neighbours need the data set's
    warm-up window. Readings of sensors outside it are dead-lettered as ``unknown sensor``.
    """
    from .sinks.kafka import KafkaSink, connector_jars

    models = models_of(cfg)
    jars = connector_jars()
    extra = {"spark.jars": ",".join(jars)} if jars else {}
    spark = session(cfg["spark"]["master"], app="sensorcast-stream",
                    shuffle_partitions=cfg["spark"]["shuffle_partitions"], extra=extra)
    reader = (spark.readStream.format("kafka").option("kafka.bootstrap.servers", opts.bootstrap)
              .option("subscribe", opts.input_topic).option("startingOffsets", opts.starting_offsets)
              .option("failOnDataLoss", "true"))
    if opts.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(opts.max_offsets_per_trigger))
    rows = forecast_stream(spark, reader.load().select("key", "value"), net, cfg, models)
    sinks: list = []
    if opts.parquet:
        sinks.append(ParquetSink(opts.parquet))
    if opts.output_topic or opts.dead_letter_topic:
        sinks.append(KafkaSink(opts.bootstrap, opts.output_topic, models, opts.dead_letter_topic))
    sinks.extend(extra_sinks)
    fan = FanOut(sinks, progress)
    writer = rows.writeStream.foreachBatch(fan).option("checkpointLocation", opts.checkpoint)
    if opts.trigger:
        writer = writer.trigger(processingTime=opts.trigger)
    stop = GracefulStop()
    stop.install()
    print(f"sensorcast stream: {opts.input_topic}@{opts.bootstrap} → "
          f"{', '.join(type(s).__name__ for s in sinks) or 'no sink'}; checkpoint {opts.checkpoint}; "
          f"{len(net.sensors)} sensors × {len(net.measures)} measures, {cfg['spark']['shards']} shards",
          file=sys.stderr, flush=True)
    query = writer.start()
    wait_for(query, fan, stop, opts.idle_stop)
    exc = query.exception()
    summary = " ".join(f"{k}={v}" for k, v in fan.summary().items())
    if exc is not None:
        print(f"sensorcast stream: query failed: {exc}", file=sys.stderr, flush=True)
        print(f"stream failed: {summary}", flush=True)
        return 1
    print(f"stream stopped ({stop.why or 'query ended'}): {summary}", flush=True)
    return 0
