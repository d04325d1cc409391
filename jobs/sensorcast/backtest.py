"""``sensorcast backtest``: the offline engine under a protocol, writing ``metrics.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import yaml

from . import evaluate, forecasts
from .evaluate import Outcome
from .run import load_panel


def outcome_frame(oc: Outcome):
    """The forecast rows of an offline run, as the streaming job writes them."""
    p = oc.panel
    sens = np.array([s for s in p.sensors for _ in p.measures], dtype=object)
    meas = np.array([m for _ in p.sensors for m in p.measures], dtype=object)
    actual = np.where(oc.flag == 2, np.nan, p.values.reshape(len(p.times), -1))
    chosen = "ensemble" if "ensemble" in oc.models else oc.models[-1]
    frame = forecasts.frame(p.times, p.epochs, sens, meas, oc.models, chosen, oc.preds, actual,
                            oc.value, oc.flag, oc.z)
    return frame.sort_values(["epoch", "sensor", "measure"], kind="stable").reset_index(drop=True)


def backtest(cfg: dict, protocol: str, out: str | Path, write_forecasts: bool = False,
             progress: bool = True) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    panel = load_panel(cfg)
    oc = evaluate.run_protocol(panel, cfg, protocol, progress=progress)
    res = evaluate.outcome_metrics(oc)
    res["engine"] = "offline"
    (out / "metrics.json").write_text(json.dumps(res, indent=1))
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    if write_forecasts:
        outcome_frame(oc).to_parquet(out / "forecasts.parquet", index=False)
    print(evaluate.table(res), file=sys.stdout)
    return res
