"""Helpers of the OpenTSDB tests: a small real KETI slice, a run of it with the sink, the points a run must leave
in the TSD (worked out here from the run's Parquet rows, independently of the sink's code), and the points
read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sensorcast import run, stream
from sensorcast.forecasts import pred_column
from sensorcast.io import datasets
from sensorcast.sinks.opentsdb import OpenTsdbSink

# Rooms 621..668 of KETI around room 640, whose long real outage starts inside the window; 400 one-minute
# steps from step 2560 cross midnight (2013-08-26) at step 2936, so the daily MSE has two days.
SENSORS = ["621", "640", "644", "648", "664", "666", "668", "417"]
MEASURES = ["temperature", "co2"]
START, STOP = 2560, 2960

Key = tuple[str, str, str, str | None]  # metric, sensor, measure, model


def keti_slice(folder: Path) -> tuple[Path, Path]:
    """Write the slice as a long CSV (+ locations CSV) that ``--dataset PATH --format long-csv`` reads."""
    panel = datasets.load("keti").select(measures=MEASURES, sensors=SENSORS, start=START, stop=STOP)
    t, s, m = np.nonzero(np.isfinite(panel.values))
    frame = pd.DataFrame({"timestamp": pd.to_datetime(panel.times[t]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "sensor": np.array(panel.sensors)[s], "measure": np.array(panel.measures)[m],
                          "value": [repr(float(v)) for v in panel.values[t, s, m]]})
    data = folder / "keti-slice.csv"
    frame.to_csv(data, index=False)
    locs = folder / "keti-slice-locations.csv"
    pd.DataFrame([(k, *panel.locations[k]) for k in panel.sensors], columns=["sensor", "x", "y"]).to_csv(
        locs, index=False)
    return data, locs


def make_sink(tsdb, cfg: dict, pipeline: str, state: Path, **kw) -> OpenTsdbSink:
    return OpenTsdbSink(tsdb.url, pipeline, stream.models_of(cfg), cfg["detection"]["ranges"], state,
                        progress=False, **kw)


def run_with(tsdb, cfg: dict, out: Path, sink: OpenTsdbSink, resume: bool = False) -> dict:
    """The embedded job on the slice (Parquet in ``out``) with the sink; returns the metrics."""
    return run.run(cfg, out, report=False, extra_sinks=[sink], resume=resume)


def window(rows) -> tuple[int, int]:
    """(start, end) ms just around the run's rows."""
    return int(rows.ms.min()) - 1, int(rows.ms.max()) + 1


def run_rows(out: Path) -> pd.DataFrame:
    """The run's forecast rows with their micro-batch id and ms timestamps."""
    rows = pd.read_parquet(out / "forecasts")
    rows["batch_id"] = rows["batch_id"].astype(int)
    rows["ms"] = pd.to_datetime(rows.ts).to_numpy().astype("datetime64[ms]").astype(np.int64)
    return rows


def expected_points(rows: pd.DataFrame, models: list[str], ranges: dict) -> dict[Key, dict[int, float]]:
    """Every series the sink must write, {ms: value}; the MSE by a groupby + cumulative sum per batch."""
    out: dict[Key, dict[int, float]] = {}
    series = [("sensorcast.actual", "actual", None), ("sensorcast.value", "value", None)]
    series += [("sensorcast.prediction", pred_column(m), m) for m in models]
    for metric, col, model in series:
        sub = rows[np.isfinite(rows[col].astype(float))]
        for (s, me), g in sub.groupby(["sensor", "measure"]):
            out[(metric, s, me, model)] = dict(zip(g.ms.tolist(), g[col].astype(float).tolist(), strict=True))
    codes = rows.flag.map({"ok": 0, "erroneous": 1, "missing": 2})
    for (s, me), g in rows.assign(code=codes).groupby(["sensor", "measure"]):
        out[("sensorcast.flag", s, me, None)] = dict(zip(g.ms.tolist(), g.code.astype(float).tolist(), strict=True))
    lo = rows.measure.map(lambda m: ranges[m][0])
    hi = rows.measure.map(lambda m: ranges[m][1])
    for m in models:
        pred = rows[pred_column(m)].astype(float)
        ok = rows.actual.notna() & (rows.actual >= lo) & (rows.actual <= hi) & pred.notna()
        sc = rows[ok].assign(e2=(pred[ok] - rows.actual[ok]) ** 2, day=rows.ms[ok] // 86_400_000)
        per = (sc.groupby(["sensor", "measure", "day", "batch_id"])
               .agg(sse=("e2", "sum"), n=("e2", "size"), ts=("ms", "max")).reset_index()
               .sort_values(["sensor", "measure", "day", "batch_id"]))
        grp = per.groupby(["sensor", "measure", "day"])
        per["mse"] = grp.sse.cumsum() / grp.n.cumsum()
        for (s, me), g in per.groupby(["sensor", "measure"]):
            out[("sensorcast.mse", s, me, m)] = dict(zip(g.ts.tolist(), g.mse.tolist(), strict=True))
    return out


METRICS = ["sensorcast.actual", "sensorcast.value", "sensorcast.prediction", "sensorcast.flag", "sensorcast.mse"]


def read_points(tsdb, pipeline: str, start_ms: int, end_ms: int) -> dict[Key, dict[int, float]]:
    """Every series of a pipeline in the TSD (aggregator none: one result per stored series)."""
    out: dict[Key, dict[int, float]] = {}
    for metric in METRICS:
        for res in tsdb.query(metric, {"pipeline": pipeline}, start_ms, end_ms):
            tags = res["tags"]
            if metric == "sensorcast.mse":
                assert tags.get("window") == "day", tags
            key = (metric, tags["sensor"], tags["measure"], tags.get("model"))
            assert key not in out, f"two series for {key}"
            out[key] = {int(k): float(v) for k, v in res["dps"].items()}
    return out
