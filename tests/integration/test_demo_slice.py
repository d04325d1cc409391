"""The main job as a user runs it (the installed ``sensorcast run`` command) on a slice of the demo data,
then its report opened in a real headless Chromium (Debian's ``chromium``)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from sensorcast import evaluate

pytestmark = pytest.mark.spark

SCHEMA = json.loads((Path(evaluate.__file__).parent / "schemas" / "metrics.schema.json").read_text())
STEPS = 2700  # KETI's warm-up hours, its first full day and most of the second (three day slices)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    cli = Path(sys.executable).with_name("sensorcast")
    proc = subprocess.run([str(cli), "run", "--dataset", "keti", "--steps", str(STEPS), "--out", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_run_writes_metrics_forecasts_and_report(demo):
    out, proc = demo
    res = json.loads((out / "metrics.json").read_text())
    jsonschema.validate(res, SCHEMA)
    assert res["engine"] == "spark" and res["protocol"] == "online"
    assert list(res["per_day"]["temperature"]) == ["2013-08-24", "2013-08-25"]  # warm-up day not scored
    assert set(res["models"]) == {"persistence", "ema", "ar-rls", "spatial-rls", "ensemble"}
    assert res["flags"]["erroneous"] > 0 and res["flags"]["missing"] > 0
    assert "ensemble" in proc.stdout and "wrote" in proc.stdout
    assert "batch 1:" in proc.stderr  # progress per micro-batch
    assert "Broadcasting large task binary" not in proc.stderr  # quiet by default
    assert any((out / "forecasts").rglob("*.parquet"))
    page = (out / "report.html").read_text()
    images = re.findall(r"<img src=['\"]([^'\"]+)['\"]", page)
    assert "plots/daily-mse.png" in images and len(images) >= 1 + 5  # daily MSE + a sensor per measure
    assert all((out / src).stat().st_size > 5_000 for src in images)


def test_report_images_load_in_headless_chromium(demo, tmp_path):
    out, _ = demo
    chromium = shutil.which("chromium")
    assert chromium, "the report test needs Debian's chromium: `apt-get install chromium` (make test installs it)"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
         (out / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    m = re.search(r'data-images="(\d+)/(\d+)"', proc.stdout)
    assert m, f"the page's load script did not run: {proc.stderr[-1000:]}"
    loaded, total = int(m.group(1)), int(m.group(2))
    assert total >= 6 and loaded == total, f"{loaded} of {total} images loaded"


def test_regenerated_report_matches_sensors_asked(demo):
    out, _ = demo
    cli = Path(sys.executable).with_name("sensorcast")
    proc = subprocess.run([str(cli), "report", str(out), "--sensors", "413"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    page = (out / "report.html").read_text()
    assert "sensor 413, temperature" in page and "sensor 640" not in page
