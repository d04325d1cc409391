"""The embedded streaming job (real Spark, local mode) against the offline engine on a real KETI slice.

Micro-batches hold whole time steps (hour slices), so the Spark job and ``backtest`` must give the same
forecasts to 1e-9: same rows, same predictions of every model, same flags and filled values.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sensorcast import config, evaluate, forecasts, run
from sensorcast.backtest import outcome_frame

pytestmark = pytest.mark.spark

STEPS = 2700  # the full network (45 rooms × 5 measures) up to and through its first real gaps (step 2625)
HOURS_PER_BATCH = 4


@pytest.fixture(scope="module")
def spark_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = config.load(dataset="keti", sets=["replay.slice=hour", "spark.shards=3"])
    res = run.run(cfg, out, steps=STEPS, slices_per_batch=HOURS_PER_BATCH, report=False)
    return cfg, out, res


@pytest.fixture(scope="module")
def offline(spark_run):
    cfg, _, _ = spark_run
    panel = run.load_panel(cfg, STEPS)
    return evaluate.run_protocol(panel, cfg, "online", progress=False)


def test_spark_forecasts_equal_offline_engine(spark_run, offline):
    cfg, out, _ = spark_run
    streamed = run.read_forecasts(out / "forecasts")
    batch = outcome_frame(offline)
    assert len(streamed) == len(batch) > 100_000
    key = ["epoch", "sensor", "measure"]
    pd.testing.assert_frame_equal(streamed[key], batch[key])
    assert (streamed.flag == batch.flag).all()
    assert set(streamed.flag) >= {"ok", "missing"}  # gaps in the slice were filled
    for col in [forecasts.pred_column(m) for m in offline.models] + ["value", "actual", "residual_z"]:
        np.testing.assert_allclose(streamed[col].to_numpy(float), batch[col].to_numpy(float),
                                   rtol=0, atol=1e-9, equal_nan=True, err_msg=col)
    assert (streamed.chosen == "ensemble").all()


def test_spark_metrics_equal_offline_metrics(spark_run, offline):
    _, out, res = spark_run
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["engine"] == "spark" and on_disk == res
    ref = evaluate.outcome_metrics(offline)
    for measure, block in ref["by_measure"].items():
        for model, e in block.items():
            got = res["by_measure"][measure][model]
            assert got["n"] == e["n"] and got["mse"] == pytest.approx(e["mse"], rel=1e-6, abs=1e-9)


def test_checkpoint_holds_state_per_shard(spark_run):
    _, out, _ = spark_run
    ckpt = out / "checkpoint"
    assert (ckpt / "offsets").is_dir() and (ckpt / "state").is_dir()
    committed = sorted(int(p.name) for p in (ckpt / "commits").iterdir() if p.name.isdigit())
    hours = len(np.unique(run.load_panel(config.load(dataset="keti"), STEPS).times.astype("datetime64[h]")))
    assert committed == list(range(-(-hours // HOURS_PER_BATCH)))  # one micro-batch per 4 hour slices
