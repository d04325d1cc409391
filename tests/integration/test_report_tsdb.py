"""``sensorcast report DIR --opentsdb URL``: after the slice's run into the real TSD, the rows read back equal the
run's Parquet rows, and the report built from them has the run's metrics, sensors, models and images."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest

from sensorcast import cli, run
from sensorcast.report import write_report
from sensorcast.sinks.opentsdb_read import read_forecasts

pytestmark = [pytest.mark.tsdb, pytest.mark.spark]


def images(folder) -> list[str]:
    return re.findall(r"<img src=['\"]([^'\"]+)['\"]", (folder / "report.html").read_text())


def test_rows_read_back_equal_the_parquet_rows(tsdb, clean_run):
    out, _, _ = clean_run
    got = read_forecasts(tsdb.url, "it-clean")
    want = run.read_forecasts(out / "forecasts")[list(got.columns)]
    want = want.sort_values(["ts", "sensor", "measure"]).reset_index(drop=True)
    for frame in (got, want):
        frame["ts"] = frame.ts.astype("datetime64[ms]")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_report_from_the_tsd_is_the_runs_report(tsdb, clean_run, tmp_path):
    out, _, _ = clean_run
    parquet, tsd = tmp_path / "parquet", tmp_path / "tsdb"
    for folder in (parquet, tsd):
        folder.mkdir()
        shutil.copy(out / "config.yaml", folder)
    write_report(parquet, frame=run.read_forecasts(out / "forecasts"),
                 metrics=json.loads((out / "metrics.json").read_text()))
    assert cli.main(["report", str(tsd), "--opentsdb", tsdb.url, "--pipeline", "it-clean"]) == 0
    assert images(tsd) == images(parquet) and len(images(tsd)) >= 1 + 2 * 2  # daily MSE + 2 sensors × 2 measures
    assert all((tsd / src).stat().st_size > 5_000 for src in images(tsd))
    got = json.loads((tsd / "metrics-opentsdb.json").read_text())
    want = json.loads((out / "metrics.json").read_text())
    assert got["engine"] == "opentsdb" and got["flags"] == want["flags"] and list(got["models"]) == list(want["models"])
    for key in ("by_measure", "per_day", "per_sensor", "models"):
        assert close(got[key], want[key]), key


def close(a, b) -> bool:
    """Nested dicts equal up to float rounding (the sums run in another order)."""
    if isinstance(a, dict):
        return set(a) == set(b) and all(close(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == pytest.approx(b, rel=1e-5, abs=1e-9)
    return a == b
