"""metrics.json: the contract (JSON Schema) and the arithmetic on a hand-made case."""

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from sensorcast import evaluate
from sensorcast.backtest import backtest

SCHEMA = json.loads((Path(evaluate.__file__).parent / "schemas" / "metrics.schema.json").read_text())


def test_metrics_arithmetic_by_hand():
    points = {"stream": np.array([0, 0, 1, 3]),  # sensors a (streams 0,1), b (2,3); measures x, y
              "day": np.array(["2024-01-02", "2024-01-03", "2024-01-02", "2024-01-02"], dtype="datetime64[D]"),
              "err": np.array([[1.0, 0.5], [-3.0, 0.5], [2.0, 1.0], [4.0, 2.0]])}
    res = evaluate.metrics(points, ["a", "b"], ["x", "y"], ["persistence", "ema"], "toy", "online", 10, 1.0)
    jsonschema.validate(res, SCHEMA)
    assert res["by_measure"]["x"]["persistence"] == {"mae": 2.0, "mse": 5.0, "n": 2}
    assert res["by_measure"]["y"]["ema"] == {"mae": 1.5, "mse": 2.5, "n": 2}
    assert res["per_day"]["x"]["2024-01-03"]["persistence"]["mse"] == 9.0
    assert res["per_sensor"]["y"]["b"]["ema"]["mae"] == 2.0
    # two measures: relative to persistence, averaged
    assert res["models"]["ema"]["mse"] == pytest.approx(np.mean([0.25 / 5.0, 2.5 / 10.0]), abs=1e-6)
    assert res["models"]["ema"]["relative_to"] == "persistence"


@pytest.mark.parametrize("dataset,protocol,measures", [("intel-extract", "online", None),
                                                       ("intel-extract", "day-holdout", ["temperature"])])
def test_backtest_output_follows_the_schema(tmp_path, dataset, protocol, measures):
    from sensorcast import config
    cfg = config.load(dataset=dataset, measures=measures)
    res = backtest(cfg, protocol, tmp_path, write_forecasts=True, progress=False)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    jsonschema.validate(on_disk, SCHEMA)
    assert on_disk["rows"] == 24000 // (2 if measures else 1) and on_disk["protocol"] == protocol
    ns = {e["n"] for block in res["by_measure"].values() for e in block.values()}
    assert len(ns) <= len(res["by_measure"])  # all models share n per measure
    assert (tmp_path / "forecasts.parquet").stat().st_size > 0
