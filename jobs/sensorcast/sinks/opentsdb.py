"""OpenTSDB sink (design §3): forecast rows → ``/api/put?details`` points, batched, retried, idempotent.

Metrics ``sensorcast.actual``, ``.value``, ``.prediction`` (tag ``model``), ``.mse`` (tags ``model``,
``window=day``: the running MSE of the current UTC day, one point per micro-batch), ``.flag`` (0 ok,
1 erroneous, 2 missing), all tagged ``sensor``, ``measure``, ``pipeline``; ms timestamps. A point is
keyed by metric + tags + timestamp, and the TSD runs with ``tsd.storage.fix_duplicates``, so a replayed
micro-batch overwrites its own points. The daily MSE accumulator is kept per batch id in a small state
folder, so a replay starts from the same sums and writes the same values.

Pipeline health (the Grafana pipeline-health dashboard), stamped with the wall time of the micro-batch's
write, tagged ``pipeline``: ``sensorcast.rows`` (tag ``flag``: forecast rows so far, a counter per job
process: its rate is rows/s, a restart resets it), ``sensorcast.deadletter`` (tag ``reason``: dead-letter
rows so far, a counter too) and ``sensorcast.lag`` (seconds from the newest reading of the batch to its
write: event-time lag; for a replay of old data, the data's age). These are at-least-once: a replayed
micro-batch counts again.
"""

from __future__ import annotations

import json
import logging
import random
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from ..forecasts import pred_column
from .small_files import HadoopFiles, LocalFiles, SmallFiles, is_uri

log = logging.getLogger(__name__)

FLAG_CODES = {"ok": 0, "erroneous": 1, "missing": 2}
MSE_KEY = ["sensor", "measure", "model", "day"]
POINT_COLUMNS = ["metric", "timestamp", "value", "sensor", "measure", "model"]
_BAD_TAG_CHARS = re.compile(r"[^\w\-./]", re.UNICODE)  # OpenTSDB allows letters, digits and - _ . /
KEEP_STATES = 3  # MSE states kept: the newest few batch ids (a replay needs the one before it)


class OpenTsdbError(RuntimeError):
    """A batch of points could not be written (after the retries); fails the streaming query."""


def tag_value(name: str) -> str:
    """A tag value OpenTSDB accepts: characters outside ``[\\w-./]`` become ``_``."""
    return _BAD_TAG_CHARS.sub("_", str(name)) or "_"


def check_pipeline(name: str) -> str:
    if not name or _BAD_TAG_CHARS.search(name):
        raise ValueError(f"pipeline name {name!r}: OpenTSDB tag values take letters, digits and - _ . / only")
    return name


def _ms(ts: pd.Series) -> np.ndarray:
    """Timestamps (naive UTC or tz-aware) → int64 ms since the epoch."""
    t = pd.to_datetime(ts, utc=True)
    return t.dt.tz_localize(None).to_numpy().astype("datetime64[ms]").astype(np.int64)


def _block(metric: str, ts: np.ndarray, value: np.ndarray, sensor: np.ndarray, measure: np.ndarray,
           model: str | None) -> pd.DataFrame:
    keep = np.isfinite(value)
    return pd.DataFrame({"metric": metric, "timestamp": ts[keep], "value": value[keep], "sensor": sensor[keep],
                         "measure": measure[keep], "model": model})


def forecast_points(rows: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """Points of ``actual``, ``value``, ``prediction`` per model and ``flag`` (non-finite values dropped)."""
    ts = _ms(rows.ts)
    sensor = rows.sensor.map(tag_value).to_numpy(dtype=object)
    measure = rows.measure.map(tag_value).to_numpy(dtype=object)
    blocks = [_block("sensorcast.actual", ts, rows.actual.to_numpy(float), sensor, measure, None),
              _block("sensorcast.value", ts, rows.value.to_numpy(float), sensor, measure, None)]
    blocks += [_block("sensorcast.prediction", ts, rows[pred_column(m)].to_numpy(float), sensor, measure, m)
               for m in models]
    flags = rows.flag.map(FLAG_CODES).to_numpy(dtype=float)
    blocks.append(_block("sensorcast.flag", ts, flags, sensor, measure, None))
    return pd.concat(blocks, ignore_index=True)[POINT_COLUMNS]


def daily_sums(rows: pd.DataFrame, models: list[str], ranges: dict[str, list[float]]) -> pd.DataFrame:
    """Per (sensor, measure, model, UTC day): ``n``, ``sse`` and the last ``ts`` (ms) of the scored rows.

    Scored as offline: a finite actual inside the measure's hard range, and a finite prediction.
    """
    actual = rows.actual.to_numpy(float)
    lo = rows.measure.map(lambda m: ranges.get(m, (-np.inf, np.inf))[0]).to_numpy(float)
    hi = rows.measure.map(lambda m: ranges.get(m, (-np.inf, np.inf))[1]).to_numpy(float)
    with np.errstate(invalid="ignore"):
        in_range = np.isfinite(actual) & (actual >= lo) & (actual <= hi)
    ts = _ms(rows.ts)
    day = ts // 86_400_000
    frames = []
    for m in models:
        pred = rows[pred_column(m)].to_numpy(float)
        ok = in_range & np.isfinite(pred)
        frames.append(pd.DataFrame({"sensor": rows.sensor.to_numpy(object)[ok], "measure": rows.measure.to_numpy(
            object)[ok], "model": m, "day": day[ok], "n": 1, "sse": (pred[ok] - actual[ok]) ** 2, "ts": ts[ok]}))
    scored = pd.concat(frames, ignore_index=True)
    return (scored.groupby(MSE_KEY, sort=True)
            .agg(n=("n", "sum"), sse=("sse", "sum"), ts=("ts", "max")).reset_index())


class MseState:
    """Running daily sums after each micro-batch, one small JSON file per batch id in ``location`` (a local
    folder, or a URI such as ``hdfs://...`` reached through the Spark driver's JVM once :meth:`bind` is called).

    ``before(b)`` is the state after the newest batch older than ``b``: what a first run and a replay of
    batch ``b`` both start from. Only the current and the previous UTC day are kept (the job sends rows in
    time order; an older day cannot change).
    """

    def __init__(self, location: str | Path) -> None:
        self.location = str(location)
        self.files: SmallFiles | None = None if is_uri(location) else LocalFiles(location)

    def bind(self, spark) -> None:
        """Open a URI location with the session's Hadoop file systems (no-op for a local folder)."""
        if self.files is None:
            self.files = HadoopFiles(spark, self.location)

    def _store(self) -> SmallFiles:
        if self.files is None:
            raise RuntimeError(f"MseState at {self.location}: bind(spark) first (a URI needs Spark's JVM)")
        return self.files

    def _ids(self) -> list[int]:
        return sorted(int(n[:-5]) for n in self._store().names() if n.endswith(".json") and n[:-5].isdigit())

    def before(self, batch_id: int) -> pd.DataFrame:
        older = [i for i in self._ids() if i < batch_id]
        if not older:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                                 [("sensor", object), ("measure", object), ("model", object), ("day", np.int64),
                                  ("n", np.int64), ("sse", float), ("ts", np.int64)]})
        data = json.loads(self._store().read(f"{older[-1]}.json"))
        return pd.DataFrame(data["rows"], columns=data["columns"]).astype({"day": np.int64, "n": np.int64,
                                                                            "ts": np.int64, "sse": float})

    def save(self, batch_id: int, sums: pd.DataFrame) -> None:
        if len(sums):
            sums = sums[sums.day >= sums.day.max() - 1]
        store = self._store()
        store.write(f"{batch_id}.json", json.dumps({"columns": list(sums.columns), "rows": sums.to_numpy().tolist()}))
        for old in self._ids()[:-KEEP_STATES]:
            store.delete(f"{old}.json")
        for newer in (i for i in self._ids() if i > batch_id):  # a replay from an older checkpoint
            store.delete(f"{newer}.json")


def mse_points(previous: pd.DataFrame, batch: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(points, new running sums): each stream-day the batch scored gets one point at its last scored
    timestamp of the batch, valued with the day's MSE so far."""
    both = pd.concat([previous, batch], ignore_index=True)
    sums = both.groupby(MSE_KEY, sort=True).agg(n=("n", "sum"), sse=("sse", "sum"), ts=("ts", "max")).reset_index()
    touched = sums.merge(batch[MSE_KEY], on=MSE_KEY)
    points = pd.DataFrame({"metric": "sensorcast.mse", "timestamp": touched.ts.to_numpy(np.int64),
                           "value": touched.sse.to_numpy(float) / touched.n.to_numpy(float),
                           "sensor": touched.sensor.map(tag_value).to_numpy(object),
                           "measure": touched.measure.map(tag_value).to_numpy(object),
                           "model": touched.model.to_numpy(object)})
    return points, sums


def to_json_points(points: pd.DataFrame, pipeline: str) -> list[dict]:
    """OpenTSDB put bodies (flags as integers, everything else as floats)."""
    out = []
    for metric, ts, value, sensor, measure, model in zip(
            points.metric.to_numpy(object), points.timestamp.to_numpy(np.int64).tolist(),
            points.value.to_numpy(float).tolist(), points.sensor.to_numpy(object), points.measure.to_numpy(object),
            points.model.to_numpy(object), strict=True):
        tags = {"sensor": sensor, "measure": measure, "pipeline": pipeline}
        if model is not None and model == model:
            tags["model"] = model
            if metric == "sensorcast.mse":
                tags["window"] = "day"
        out.append({"metric": metric, "timestamp": ts,
                    "value": int(value) if metric == "sensorcast.flag" else value, "tags": tags})
    return out


@dataclass
class WriteStats:
    points: int = 0  # accepted by the TSD
    failed: int = 0  # rejected point by point (logged)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # the first few per-point errors


class OpenTsdbWriter:
    """Batched ``/api/put?details&sync`` over keep-alive sessions (one per sender thread), with exponential
    backoff + jitter on connection errors, storage timeouts and 5xx. ``sync`` makes the TSD answer only once
    HBase has the points, so a success means stored; as each such request waits for the TSD's storage
    flush, ``concurrency`` requests are kept in flight."""

    def __init__(self, url: str, batch_size: int = 200, max_retries: int = 8, backoff: float = 0.5,
                 max_backoff: float = 20.0, timeout: float = 60.0, sync_timeout_ms: int = 30_000,
                 concurrency: int = 4) -> None:
        if batch_size < 1:
            raise ValueError(f"OpenTSDB batch size must be >= 1, got {batch_size}")
        if concurrency < 1:
            raise ValueError(f"OpenTSDB concurrency must be >= 1, got {concurrency}")
        self.url = url.rstrip("/")
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.put_url = f"{self.url}/api/put?details&sync&sync_timeout={int(sync_timeout_ms)}"
        self.concurrency = concurrency
        self.stats = WriteStats()
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="opentsdb") if concurrency > 1 else None

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
            s.headers.update({"Content-Type": "application/json", "Connection": "keep-alive"})
            with self._lock:
                self._sessions.append(s)
        return s

    def _add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                setattr(self.stats, k, getattr(self.stats, k) + v)

    def write(self, points: list[dict]) -> WriteStats:
        """Write all points in batches; raises :class:`OpenTsdbError` when a batch still fails."""
        t0 = time.perf_counter()
        chunks = [points[i:i + self.batch_size] for i in range(0, len(points), self.batch_size)]
        try:
            if self._pool is None or len(chunks) < 2:
                for c in chunks:
                    self._put(c)
            else:
                futures = [self._pool.submit(self._put, c) for c in chunks]
                try:
                    for f in futures:
                        f.result()  # the first failure raises
                finally:
                    for f in futures:
                        f.cancel()  # batches not yet started are dropped after a failure
        finally:
            self.stats.seconds += time.perf_counter() - t0
        return self.stats

    def _sleep(self, attempt: int) -> None:
        cap = min(self.max_backoff, self.backoff * 2 ** attempt)
        time.sleep(cap / 2 + self._rng.uniform(0, cap / 2))  # "equal jitter"

    def _put(self, batch: list[dict]) -> None:
        body = json.dumps(batch, allow_nan=False).encode()
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._add(retries=1)
                self._sleep(attempt - 1)
            self._add(requests=1)
            try:
                resp = self._session().post(self.put_url, data=body, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = f"{type(exc).__name__}: {exc}"
                log.warning("OpenTSDB %s unreachable (attempt %d/%d): %s", self.url, attempt + 1,
                            self.max_retries + 1, last)
                continue
            if resp.status_code >= 500:
                last = f"HTTP {resp.status_code}: {resp.text[:300]}"
                log.warning("OpenTSDB %s answered %s (attempt %d/%d)", self.url, last, attempt + 1,
                            self.max_retries + 1)
                continue
            try:
                details = resp.json()
            except ValueError:
                raise OpenTsdbError(f"OpenTSDB {self.put_url}: HTTP {resp.status_code}, not a put summary: "
                                    f"{resp.text[:300]}") from None
            if not isinstance(details, dict) or "success" not in details:
                raise OpenTsdbError(f"OpenTSDB {self.put_url}: HTTP {resp.status_code}: {resp.text[:300]}")
            if details.get("timeouts"):  # HBase did not confirm in time: the whole batch again (idempotent)
                last = f"{details['timeouts']} of {len(batch)} points timed out in storage"
                log.warning("OpenTSDB %s: %s (attempt %d/%d)", self.url, last, attempt + 1, self.max_retries + 1)
                continue
            self._count(details, len(batch))
            return
        raise OpenTsdbError(f"OpenTSDB {self.url}: a batch of {len(batch)} points failed after "
                            f"{self.max_retries + 1} attempts; last error: {last}")

    def _count(self, details: dict, n: int) -> None:
        failed = int(details.get("failed", 0))
        self._add(points=int(details.get("success", 0)), failed=failed)
        if failed:
            for e in details.get("errors", [])[:3]:
                msg = f"{e.get('error')}: {json.dumps(e.get('datapoint'))[:200]}"
                with self._lock:
                    if len(self.stats.errors) < 20:
                        self.stats.errors.append(msg)
                log.warning("OpenTSDB rejected a point: %s", msg)
            log.warning("OpenTSDB rejected %d of %d points of a batch (%d rejected so far)", failed, n,
                        self.stats.failed)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for s in self._sessions:
            s.close()


class HealthCounters:
    """Running forecast rows per flag and dead-letter rows per reason of one job process, as health points."""

    def __init__(self) -> None:
        self.rows = {name: 0 for name in FLAG_CODES}
        self.dead: dict[str, int] = {}
        self.last_ms = 0

    def points(self, flags: pd.Series, dead: dict[str, int], newest: pd.Timestamp | None,
               pipeline: str) -> list[dict]:
        """Add a micro-batch's counts; its health points at the wall time (strictly increasing ms)."""
        now = self.last_ms = max(int(time.time() * 1000), self.last_ms + 1)
        for name, n in flags.value_counts().items():
            self.rows[name] = self.rows.get(name, 0) + int(n)
        for reason, n in dead.items():
            self.dead[tag_value(reason)] = self.dead.get(tag_value(reason), 0) + int(n)
        out = [{"metric": "sensorcast.rows", "timestamp": now, "value": n, "tags": {"pipeline": pipeline,
                "flag": name}} for name, n in self.rows.items()]
        out += [{"metric": "sensorcast.deadletter", "timestamp": now, "value": n,
                 "tags": {"pipeline": pipeline, "reason": reason}} for reason, n in sorted(self.dead.items())]
        if newest is not None:
            lag = (now - int(_ms(pd.Series([newest]))[0])) / 1000
            out.append({"metric": "sensorcast.lag", "timestamp": now, "value": lag, "tags": {"pipeline": pipeline}})
        return out


class OpenTsdbSink:
    """foreachBatch sink: a micro-batch's forecast rows and its running daily MSE into OpenTSDB.

    Fails the batch (and so the query) when the TSD stays unreachable; the query restarted from its
    checkpoint replays the batch, which rewrites the same points.
    """

    def __init__(self, url: str, pipeline: str, models: list[str], ranges: dict[str, list[float]],
                 state_dir: str | Path, batch_size: int = 200, max_retries: int = 8, backoff: float = 0.5,
                 max_backoff: float = 20.0, timeout: float = 60.0, concurrency: int = 4,
                 progress: bool = True) -> None:
        self.pipeline = check_pipeline(pipeline)
        self.models = list(models)
        self.ranges = {m: tuple(map(float, r)) for m, r in ranges.items()}
        self.state = MseState(state_dir)
        self.writer = OpenTsdbWriter(url, batch_size=batch_size, max_retries=max_retries, backoff=backoff,
                                     max_backoff=max_backoff, timeout=timeout, concurrency=concurrency)
        self.progress = progress
        self.health = HealthCounters()
        self.health_points = 0  # points of the pipeline-health metrics written (also in ``stats``)
        self._fan = None

    @property
    def stats(self) -> WriteStats:
        return self.writer.stats

    def write_rows(self, rows: pd.DataFrame, batch_id: int, dead: dict[str, int] | None = None) -> int:
        """Write one micro-batch's forecast rows (pandas) and its health points (``dead``: dead-letter rows
        per reason); returns the number of points sent."""
        previous = self.state.before(batch_id)
        health = self.health.points(rows.flag, dead or {}, rows.ts.max() if len(rows) else None,
                                    self.pipeline) if len(rows) or dead else []
        if rows.empty:
            self.writer.write(health)
            self.health_points += len(health)
            self.state.save(batch_id, previous)
            return len(health)
        mse, sums = mse_points(previous, daily_sums(rows, self.models, self.ranges))
        points = to_json_points(pd.concat([forecast_points(rows, self.models), mse], ignore_index=True),
                                self.pipeline) + health
        self.writer.write(points)
        self.health_points += len(health)
        self.state.save(batch_id, sums)
        return len(points)

    def write(self, batch_df, batch_id: int, counts: dict[str, int]) -> None:
        """The :class:`~sensorcast.sinks.FanOut` hook (the micro-batch is persisted there)."""
        from pyspark.sql import functions as F

        cols = ["ts", "sensor", "measure", "actual", *(pred_column(m) for m in self.models), "value", "flag"]
        if counts.get("forecast", 0):
            rows = batch_df.filter(F.col("kind") == "forecast").select(*cols).toPandas()
        else:
            rows = pd.DataFrame(columns=cols)
        dead = {}
        if counts.get("dead-letter", 0):
            dead = {str(r): int(n) for r, n in
                    batch_df.filter(F.col("kind") == "dead-letter").groupBy("reason").count().collect()}
        self.state.bind(batch_df.sparkSession)
        t0 = time.perf_counter()
        n = self.write_rows(rows, batch_id, dead)
        if self.progress and n:
            s = self.stats
            print(f"  batch {batch_id}: {n:,} points to OpenTSDB in {time.perf_counter() - t0:.1f} s "
                  f"({s.points:,} stored, {s.failed} rejected, {s.retries} retries so far)",
                  file=sys.stderr, flush=True)

    def __call__(self, batch_df, batch_id: int) -> None:
        """Usable alone as the ``foreachBatch`` function."""
        from . import FanOut

        if self._fan is None:
            self._fan = FanOut([self], self.progress)
        self._fan(batch_df, batch_id)
