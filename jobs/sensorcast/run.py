"""``sensorcast run``: the streaming job embedded on one machine, on a bundled or local data set.

Spark local mode, the replay source feeding day/hour slices as micro-batches, model state in Spark's
state store, checkpoint in ``DIR/checkpoint``, forecasts in ``DIR/forecasts`` (Parquet); then
``metrics.json`` (same schema as ``backtest``) and the report.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import config as config_mod
from . import evaluate, forecasts, stream
from .io import datasets
from .io.panel import Panel
from .network import build


def load_panel(cfg: dict, steps: int | None = None) -> Panel:
    panel = datasets.load(cfg["dataset"], cfg["format"], cfg["locations"])
    if cfg["measures"]:
        missing = [m for m in cfg["measures"] if m not in panel.measures]
        if missing:
            raise ValueError(f"measures: {missing} not in data set {cfg['dataset']!r} "
                             f"(it has {', '.join(panel.measures)})")
        panel = panel.select(measures=cfg["measures"])
    if steps:
        panel = panel.select(stop=steps)
    return panel


RUN_STATE = ("checkpoint", "forecasts", "dead-letter", "opentsdb-state")  # what a run keeps in its folder


def prepare_out(out: Path, cfg: dict, resume: bool) -> None:
    """A fresh start removes a previous run's checkpoint and outputs from ``out``; ``resume`` continues an
    interrupted run, which must have had the same config (its state and forecasts depend on it)."""
    text = yaml.safe_dump(cfg, sort_keys=False)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if resume:
        old = out / "config.yaml"
        if (out / "checkpoint").exists() and old.exists() and old.read_text() != text:
            raise config_mod.ConfigError(f"--resume: the run in {out} used another config ({old}); "
                                         "run without --resume to start afresh")
    elif (out / "checkpoint").exists():
        for name in RUN_STATE:
            shutil.rmtree(out / name, ignore_errors=True)
        print(f"sensorcast run: starting afresh in {out} (the previous run's checkpoint and forecasts removed; "
              "--resume continues an interrupted run instead)", file=sys.stderr, flush=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(text)


def run(cfg: dict, out: str | Path, steps: int | None = None, slices_per_batch: int = 1,
        trigger: str | None = None, report: bool = True, extra_sinks: Sequence = (), resume: bool = False) -> dict:
    """Run the embedded streaming job to the end of the data set; returns the metrics.

    ``extra_sinks`` (e.g. the OpenTSDB sink) get each micro-batch after the Parquet sink; ``resume``
    continues from the checkpoint in ``out`` instead of starting afresh."""
    from .replay_source import ReplayDataSource
    from .sinks import FanOut

    out = Path(out)
    prepare_out(out, cfg, resume)
    t0 = time.time()
    panel = load_panel(cfg, steps)
    net = build(panel, cfg)
    models = stream.models_of(cfg)
    print(f"sensorcast run: {panel.name}, {len(panel.sensors)} sensors × {len(panel.measures)} measures, "
          f"{len(panel.times):,} time steps, slices of one {cfg['replay']['slice']}, "
          f"{cfg['spark']['shards']} shards, {cfg['spark']['master']}", file=sys.stderr, flush=True)
    spark = stream.session(cfg["spark"]["master"], shuffle_partitions=cfg["spark"]["shuffle_partitions"])
    spark.dataSource.register(ReplayDataSource)
    reader = (spark.readStream.format("sensorcast-replay").option("dataset", cfg["dataset"])
              .option("slice", cfg["replay"]["slice"]).option("slicesPerBatch", str(slices_per_batch)))
    for key, val in (("format", cfg["format"]), ("locations", cfg["locations"]),
                     ("measures", ",".join(panel.measures)), ("steps", steps)):
        if val:
            reader = reader.option(key, str(val))
    rows = stream.forecast_stream(spark, reader.load(), net, cfg, models)
    writer = (rows.writeStream.foreachBatch(FanOut([stream.ParquetSink(str(out)), *extra_sinks]))
              .option("checkpointLocation", str(out / "checkpoint")))
    if trigger:
        writer = writer.trigger(processingTime=trigger)
    query = writer.start()
    try:
        query.processAllAvailable()
    finally:
        query.stop()
    if query.exception():
        raise RuntimeError(f"streaming query failed: {query.exception()}")
    spark_seconds = time.time() - t0
    res = metrics_from_forecasts(out / "forecasts", panel, cfg, models, spark_seconds)
    (out / "metrics.json").write_text(json.dumps(res, indent=1))
    print(evaluate.table(res))
    if report:
        from .report import write_report
        write_report(out)
    return res


def read_forecasts(path: str | Path) -> pd.DataFrame:
    """All forecast rows of a run (every micro-batch), sorted by epoch, sensor, measure."""
    frame = pd.read_parquet(path)
    frame = frame.drop(columns=[c for c in ("batch_id",) if c in frame.columns])
    return frame.sort_values(["epoch", "sensor", "measure"], kind="stable").reset_index(drop=True)


def metrics_from_forecasts(path: str | Path, panel: Panel, cfg: dict, models: list[str],
                           seconds: float) -> dict:
    """Score a run's forecast rows with the offline rules (online protocol)."""
    net = build(panel, cfg)
    res = score_rows(read_forecasts(path), net.sensors, net.measures, net.lo, net.hi,
                     evaluate.scored_days(panel), models, panel.name, panel.rows, seconds)
    res["bad_lines"] = panel.bad.summary()
    res["engine"] = "spark"
    return res


def score_rows(frame: pd.DataFrame, sensors: list[str], measures: list[str], lo: np.ndarray, hi: np.ndarray,
               scored_days: Sequence, models: list[str], dataset: str, rows: int, seconds: float) -> dict:
    """Metrics of forecast rows (online protocol): actuals inside the measure's hard range (``lo``/``hi``
    per measure) on the scored days, every model on the same points; plus the flag counts."""
    s_map = {s: i for i, s in enumerate(sensors)}
    m_map = {m: i for i, m in enumerate(measures)}
    s_idx = frame.sensor.map(s_map).to_numpy()
    m_idx = frame.measure.map(m_map).to_numpy()
    actual = frame.actual.to_numpy(float)
    days = frame.ts.to_numpy().astype("datetime64[D]")
    scored = np.array(scored_days, dtype="datetime64[D]")
    preds = np.stack([frame[forecasts.pred_column(m)].to_numpy(float) for m in models], axis=1)
    with np.errstate(invalid="ignore"):
        ok = (np.isfinite(actual) & (actual >= lo[m_idx]) & (actual <= hi[m_idx])
              & np.isin(days, scored) & np.isfinite(preds[:, 0]))
    points = {"stream": (s_idx * len(measures) + m_idx)[ok], "day": days[ok],
              "err": preds[ok] - actual[ok][:, None]}
    res = evaluate.metrics(points, sensors, measures, models, dataset, "online", rows, seconds)
    res["flags"] = frame.flag.value_counts().reindex(["ok", "erroneous", "missing"], fill_value=0).astype(int).to_dict()
    return res
