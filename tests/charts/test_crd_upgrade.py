"""The CRD upgrade path: Helm installs crds/ but never upgrades it, so the operator chart ships
files/apply_crds.py (run by its pre-upgrade hook Job, off by default, or by hand). Here it applies a changed
ForecastPipeline CRD to the real kube-apiserver and waits until it is Established; then the shipped one again."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from tests.charts import helmtool

pytestmark = pytest.mark.apiserver

SCRIPT = helmtool.CHARTS / "sensorcast-operator" / "files" / "apply_crds.py"
SHIPPED = helmtool.CHARTS / "sensorcast-operator" / "crds" / "forecastpipelines.sensorcast.dev.yaml"
NAME = "forecastpipelines.sensorcast.dev"


def apply(path) -> str:
    proc = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def live_crd(control_plane) -> dict:
    return control_plane.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{NAME}")


def test_hook_script_upgrades_the_crd(control_plane, tmp_path):
    crd = yaml.safe_load(SHIPPED.read_text())
    changed = copy.deepcopy(crd)
    changed["metadata"].setdefault("labels", {})["sensorcast.dev/upgrade-test"] = "v2"
    version = changed["spec"]["versions"][0]
    version["additionalPrinterColumns"] = [*version.get("additionalPrinterColumns", []),
                                           {"name": "Upgraded", "type": "string", "jsonPath": ".metadata.uid"}]
    (tmp_path / "crd.yaml").write_text(yaml.safe_dump(changed))
    try:
        assert f"applied {NAME}" in apply(tmp_path / "crd.yaml")
        live = live_crd(control_plane)
        assert live["metadata"]["labels"]["sensorcast.dev/upgrade-test"] == "v2"
        assert "Upgraded" in [c["name"] for c in live["spec"]["versions"][0]["additionalPrinterColumns"]]
    finally:
        apply(SHIPPED)  # what the next tests of the session expect
    live = live_crd(control_plane)
    assert "sensorcast.dev/upgrade-test" not in (live["metadata"].get("labels") or {})
    assert "Upgraded" not in [c["name"] for c in live["spec"]["versions"][0].get("additionalPrinterColumns", [])]
