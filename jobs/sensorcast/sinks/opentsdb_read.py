"""Forecast rows read back from OpenTSDB (the sink's design §3 metrics), so reports can be built from the TSD.

The TSD is asked one UTC day and one metric at a time (aggregator ``none``: one result per stored series), so
a query's answer stays small however long the run; the days come from a ``1d-count`` of ``sensorcast.flag``,
which has a point for every forecast row. The rows are keyed by (timestamp, sensor, measure), as written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import requests

from ..forecasts import pred_column
from .opentsdb import FLAG_CODES

DAY_MS = 86_400_000
SERIES = {"sensorcast.actual": "actual", "sensorcast.value": "value", "sensorcast.flag": "flag"}
KEY = ["ts", "sensor", "measure"]


class OpenTsdbQueryError(RuntimeError):
    """``/api/query`` answered with an error other than an unknown metric or tag value."""


class OpenTsdbReader:
    """``/api/query`` over a keep-alive session (ms resolution)."""

    def __init__(self, url: str, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def query(self, metric: str, tags: dict[str, str], start_ms: int, end_ms: int | None = None,
              aggregator: str = "none", downsample: str | None = None) -> list[dict]:
        """One sub-query; its result series (``dps``: {ms string: value}); [] for a name never written."""
        sub: dict = {"aggregator": aggregator, "metric": metric, "tags": tags}
        if downsample:
            sub["downsample"] = downsample
        body: dict = {"start": max(int(start_ms), 1), "msResolution": True, "queries": [sub]}
        if end_ms is not None:
            body["end"] = int(end_ms)
        resp = self.session.post(f"{self.url}/api/query", json=body, timeout=self.timeout)
        if resp.status_code == 400 and "No such name" in resp.text:
            return []
        if resp.status_code != 200:
            raise OpenTsdbQueryError(f"OpenTSDB {self.url}/api/query {sub}: HTTP {resp.status_code}: "
                                     f"{resp.text[:500]}")
        return resp.json()

    def days(self, pipeline: str, start_ms: int = 1, end_ms: int | None = None) -> list[int]:
        """Start (ms) of each UTC day with forecast rows of the pipeline."""
        res = self.query("sensorcast.flag", {"pipeline": pipeline}, start_ms, end_ms, aggregator="sum",
                         downsample="1d-count")
        return sorted({int(t) // DAY_MS * DAY_MS for r in res for t, n in r["dps"].items() if n})

    def close(self) -> None:
        self.session.close()


def series_frame(results: list[dict], column: str) -> pd.DataFrame:
    """Query results (one per series) → long rows ``ts`` (ms), ``sensor``, ``measure``, ``model``, column."""
    parts = []
    for r in results:
        dps = r["dps"]
        if not dps:
            continue
        tags = r["tags"]
        parts.append(pd.DataFrame({"ts": np.fromiter(map(int, dps), np.int64, len(dps)),
                                   column: np.fromiter(dps.values(), float, len(dps)),
                                   "sensor": tags["sensor"], "measure": tags["measure"],
                                   "model": tags.get("model")}))
    if not parts:
        return pd.DataFrame({"ts": pd.Series(dtype=np.int64), column: pd.Series(dtype=float),
                             "sensor": pd.Series(dtype=object), "measure": pd.Series(dtype=object),
                             "model": pd.Series(dtype=object)})
    return pd.concat(parts, ignore_index=True)


def read_day(reader: OpenTsdbReader, pipeline: str, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Forecast rows of one time window: the flag's rows, with actual, value and each model's prediction."""
    tags = {"pipeline": pipeline}
    rows = series_frame(reader.query("sensorcast.flag", tags, start_ms, end_ms), "flag").drop(columns="model")
    for metric in ("sensorcast.actual", "sensorcast.value"):
        col = SERIES[metric]
        part = series_frame(reader.query(metric, tags, start_ms, end_ms), col).drop(columns="model")
        rows = rows.merge(part, on=KEY, how="left")
    preds = series_frame(reader.query("sensorcast.prediction", tags, start_ms, end_ms), "pred")
    for model, part in preds.groupby("model", sort=True):
        rows = rows.merge(part.drop(columns="model").rename(columns={"pred": pred_column(model)}), on=KEY,
                          how="left")
    return rows


def read_forecasts(url: str, pipeline: str, start_ms: int = 1, end_ms: int | None = None) -> pd.DataFrame:
    """A pipeline's forecast rows from the TSD, sorted by time, sensor, measure: ``ts`` (naive UTC), ``sensor``,
    ``measure``, ``actual``, ``pred_<model>`` per model found, ``value``, ``flag`` (ok | erroneous | missing)."""
    reader = OpenTsdbReader(url)
    try:
        days = reader.days(pipeline, start_ms, end_ms)
        frames = [read_day(reader, pipeline, max(d, start_ms), min(d + DAY_MS - 1, end_ms or d + DAY_MS - 1))
                  for d in days]
    finally:
        reader.close()
    if not frames:
        raise ValueError(f"OpenTSDB {url}: no forecast rows of pipeline {pipeline!r}")
    rows = pd.concat(frames, ignore_index=True).sort_values(KEY, kind="stable").reset_index(drop=True)
    names = {code: name for name, code in FLAG_CODES.items()}
    rows["flag"] = rows.flag.astype(int).map(names)
    rows["ts"] = pd.to_datetime(rows.ts, unit="ms")
    preds = sorted(c for c in rows if c.startswith("pred_"))
    return rows[["ts", "sensor", "measure", "actual", *preds, "value", "flag"]]
