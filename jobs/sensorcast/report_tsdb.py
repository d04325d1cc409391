"""``sensorcast report DIR --opentsdb URL``: the same HTML report, from the forecast rows read back from a TSD.

Scored as a run scores its Parquet rows (online protocol): the hard ranges of ``DIR/config.yaml`` (the run's
configuration; the defaults, written there, when the folder has none), days from the first full UTC day of
the rows on. The metrics go to ``DIR/metrics-opentsdb.json`` (a run's own ``metrics.json`` is left alone).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import config as config_mod
from .forecasts import pred_column
from .report import COLORS, folder_config, write_report
from .run import score_rows
from .sinks.opentsdb_read import read_forecasts


def scored_days(ts: pd.Series) -> list[np.datetime64]:
    """Full UTC days of the rows from day 1 on: the first day counts only if the rows start at midnight."""
    days = np.unique(ts.to_numpy().astype("datetime64[D]"))
    first = ts.min()
    start = days[0] if first == first.normalize() else days[0] + 1
    return [d for d in days if d >= start]


def tsdb_metrics(frame: pd.DataFrame, cfg: dict, dataset: str, seconds: float) -> dict:
    """The metrics.json contract of a run, from forecast rows read back from the TSD."""
    models = [m for m in COLORS if pred_column(m) in frame.columns]
    sensors = sorted(frame.sensor.unique())
    measures = sorted(frame.measure.unique())
    ranges = cfg["detection"]["ranges"]
    lo = np.array([float(ranges.get(m, [-np.inf, np.inf])[0]) for m in measures])
    hi = np.array([float(ranges.get(m, [-np.inf, np.inf])[1]) for m in measures])
    res = score_rows(frame, sensors, measures, lo, hi, scored_days(frame.ts), models, dataset,
                     int(frame.actual.notna().sum()), seconds)
    res["engine"] = "opentsdb"
    return res


def report_from_tsdb(folder: str | Path, url: str, pipeline: str, sensors: list[str] | None = None,
                     per_measure: int = 2) -> Path:
    """Read the pipeline's rows from the TSD, score them, write the report; returns the HTML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = folder_config(folder)
    if not cfg:
        cfg = config_mod.load()
        (folder / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    t0 = time.time()
    frame = read_forecasts(url, pipeline)
    metrics = tsdb_metrics(frame, cfg, f"{cfg.get('dataset', '?')} · OpenTSDB pipeline {pipeline}",
                           time.time() - t0)
    (folder / "metrics-opentsdb.json").write_text(json.dumps(metrics, indent=1))
    return write_report(folder, sensors, per_measure, frame=frame, metrics=metrics)
