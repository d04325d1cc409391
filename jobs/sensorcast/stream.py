"""The Spark Structured Streaming job: source → parse/validate → fan-out → sharded state → sinks.

The same code runs embedded (``sensorcast run``: the replay source below, local mode) and in the
cluster (Kafka source, a later issue); only the source and the sinks differ. Model state lives in
Spark's state store through ``applyInPandasWithState``, grouped by *shard* of target sensors, so each
call advances a vectorised model bank one time step at a time (design §1, scale note).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import config as config_mod
from . import forecasts
from .evaluate import new_engine
from .network import Network
from .records import TICK

log = logging.getLogger(__name__)

READING_SCHEMA = "ts STRING, epoch LONG, sensor STRING, measures MAP<STRING, DOUBLE>"
STATE_SCHEMA = "blob BINARY, last_epoch LONG"
DEAD_SHARD = -1


def output_schema(models: list[str]) -> str:
    preds = ", ".join(f"{forecasts.pred_column(m)} DOUBLE" for m in models)
    return ("kind STRING, ts TIMESTAMP, epoch LONG, sensor STRING, measure STRING, actual DOUBLE, "
            f"{preds}, chosen STRING, value DOUBLE, flag STRING, residual_z DOUBLE, "
            "reason STRING, raw STRING")


@dataclass
class ShardPlan:
    """What one shard's engine reads: target sensors, and where each (sensor, measure) input lands."""

    sensors: list[int]
    col: dict[tuple[str, str], int]  # (sensor, measure) → input column
    target_sensor: np.ndarray  # (N,) names
    target_measure: np.ndarray  # (N,) names


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
                              np.array([net.measures[g % n_m] for g in targets], dtype=object))
    return plans


def make_state_fn(net: Network, cfg: dict, n_shards: int, models: list[str]) -> Callable:
    """The ``applyInPandasWithState`` function; the closure carries the network and config."""
    plans = shard_plans(net, n_shards)
    cols = output_schema(models).split(", ")
    names = [c.split(" ")[0] for c in cols]

    def dead(pdf: pd.DataFrame, kind: str, reason: str | pd.Series) -> pd.DataFrame:
        out = pd.DataFrame({n: None for n in names}, index=pdf.index)
        out["kind"] = kind
        out["ts"], out["epoch"], out["sensor"], out["measure"] = pdf.ts, pdf.epoch, pdf.sensor, pdf.measure
        out["actual"] = pdf.value
        out["reason"], out["raw"] = reason, pdf.raw
        return out[names]

    def fn(key: tuple, pdfs: Iterator[pd.DataFrame], state) -> Iterator[pd.DataFrame]:
        # pyspark's own pandas serializer concatenates all-NA columns (FutureWarning in pandas 2.3)
        warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
        shard = int(key[0])
        pdf = pd.concat(list(pdfs), ignore_index=True)
        if shard == DEAD_SHARD:
            yield dead(pdf, "dead-letter", pdf.reason)
            return
        plan = plans[shard]
        eng, _, _ = new_engine(net, cfg, plan.sensors)
        last_epoch = -1
        if state.exists:
            blob, last_epoch = state.get
            eng.from_bytes(bytes(blob))
        late = pdf.epoch <= last_epoch
        if late.any():
            yield dead(pdf[late], "dead-letter", "late")
        pdf = pdf[~late]
        if pdf.empty:
            return
        epochs, t_idx = np.unique(pdf.epoch.to_numpy(), return_inverse=True)
        ts = np.full(len(epochs), np.iinfo(np.int64).max)
        t_ms = pd.to_datetime(pdf.ts, utc=True).dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
        np.minimum.at(ts, t_idx, t_ms.astype(np.int64))
        readings = pdf.sensor.to_numpy() != TICK
        keys = list(zip(pdf.sensor.to_numpy()[readings], pdf.measure.to_numpy()[readings], strict=True))
        c_idx = np.array([plan.col.get(k, -1) for k in keys], dtype=np.int64)
        r_t = t_idx[readings]
        vals = pdf.value.to_numpy(dtype=float)[readings]
        use = c_idx >= 0
        flat = r_t[use] * len(eng.layout.lo) + c_idx[use]
        _, first = np.unique(flat, return_index=True)
        dup = np.ones(len(flat), dtype=bool)
        dup[first] = False
        if dup.any():
            rows = pdf[readings][use][dup]
            yield dead(rows, "dead-letter", "duplicate")
        y = np.full((len(epochs), len(eng.layout.lo)), np.nan)
        y.ravel()[flat[first]] = vals[use][first]
        n = eng.layout.n
        preds = np.empty((len(epochs), len(eng.models), n))
        actual, value, z = (np.empty((len(epochs), n)) for _ in range(3))
        flag = np.empty((len(epochs), n), dtype=np.int8)
        for i in range(len(epochs)):
            out = eng.step(y[i])
            preds[i], actual[i], value[i], flag[i], z[i] = out.preds, out.actual, out.value, out.flag, out.z
        state.update((eng.to_bytes(), int(epochs[-1])))
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
    """Silence a warning that says nothing to a user: the embedded replay source ships each slice inside
    the task, so every batch would warn that it 'broadcasts a large task binary'."""
    jvm = spark.sparkContext._jvm
    level = jvm.org.apache.logging.log4j.Level.ERROR
    for name in ("org.apache.spark.scheduler.DAGScheduler",):
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, level)


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
    measures = set(net.measures)

    parsed = raw.select(F.col("value").cast("string").alias("raw"),
                        F.from_json(F.col("value").cast("string"), READING_SCHEMA).alias("r"))
    reason = (F.when(F.col("r").isNull(), "malformed JSON")
              .when(F.col("r.epoch").isNull() | F.col("r.sensor").isNull() | F.col("r.ts").isNull(),
                    "missing fields")
              .when(F.to_timestamp("r.ts").isNull(), "bad timestamp"))
    checked = parsed.withColumn("reason", reason)
    good = checked.filter(F.col("reason").isNull())
    bad = checked.filter(F.col("reason").isNotNull()).select(
        F.lit(None).cast("string").alias("ts"), F.lit(None).cast("long").alias("epoch"),
        F.lit(None).cast("string").alias("sensor"), F.lit(None).cast("string").alias("measure"),
        F.lit(None).cast("double").alias("value"), "reason", "raw", F.lit(DEAD_SHARD).alias("shard"))
    long = good.select("raw", "r.ts", "r.epoch", "r.sensor", F.explode_outer("r.measures").alias("measure", "value"))
    known = F.col("measure").isin(list(measures)) | (F.col("sensor") == TICK)
    routed = (long.filter(known | F.col("measure").isNull())
              .join(route_df, F.col("sensor") == F.col("rsensor"), "left")
              .withColumn("reason", F.when(F.col("shard").isNull(), "unknown sensor"))
              .withColumn("shard", F.coalesce(F.col("shard"), F.lit(DEAD_SHARD)))
              .select("ts", "epoch", "sensor", "measure", "value", "reason", "raw", "shard"))
    unioned = routed.unionByName(bad)
    fn = make_state_fn(net, cfg, n_shards, models)
    return unioned.groupBy("shard").applyInPandasWithState(
        fn, output_schema(models), STATE_SCHEMA, "append", GroupStateTimeout.NoTimeout)


class ParquetSink:
    """foreachBatch sink: each micro-batch to ``DIR/<kind>/batch_id=N`` (overwritten on replay, so a
    batch re-run after a restart replaces its own output instead of duplicating it)."""

    def __init__(self, out_dir: str, progress: bool = True) -> None:
        self.out_dir = out_dir
        self.progress = progress
        self.t0 = time.time()
        self.rows = 0

    def __call__(self, batch_df, batch_id: int) -> None:
        from pyspark.sql import functions as F

        batch_df.persist()
        try:
            fc = batch_df.filter(F.col("kind") == "forecast").drop("kind", "reason", "raw")
            dl = batch_df.filter(F.col("kind") == "dead-letter").select(
                "ts", "epoch", "sensor", "measure", "actual", "reason", "raw")
            fc.write.mode("overwrite").parquet(f"{self.out_dir}/forecasts/batch_id={batch_id}")
            n_dead = dl.count()
            if n_dead:
                dl.write.mode("overwrite").parquet(f"{self.out_dir}/dead-letter/batch_id={batch_id}")
                log.warning("batch %d: %d dead-letter rows", batch_id, n_dead)
            if self.progress:
                n = fc.count()
                self.rows += n
                print(f"  batch {batch_id}: {n:,} forecast rows, {n_dead} dead-letter "
                      f"({self.rows:,} rows in {time.time() - self.t0:.0f} s)", file=sys.stderr, flush=True)
        finally:
            batch_df.unpersist()


def models_of(cfg: dict) -> list[str]:
    from .models import MODEL_NAMES

    return [m for m in MODEL_NAMES if m in config_mod.engine_models(cfg)]
