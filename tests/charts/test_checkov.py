"""checkov (PyPI; its own virtualenv from hack/ensure-checkov.sh) over the rendered umbrella of every values
profile and over images/*/Dockerfile: no failed check. Skips are justified in tests/charts/checkov.yaml (global)
or next to the object (chart annotations, Dockerfile comments)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.charts import helmtool

CONFIG = Path(__file__).resolve().parent / "checkov.yaml"
VERSION_SCRIPT = helmtool.ROOT / "hack" / "ensure-checkov.sh"


def checkov() -> Path:
    version = next(line.split(":-", 1)[1].rstrip("}") for line in VERSION_SCRIPT.read_text().splitlines()
                   if line.startswith("CHECKOV_VERSION="))
    path = helmtool.CACHE / f"checkov-{version}" / "bin" / "checkov"
    if not (path.parent.parent / ".complete").exists():
        pytest.fail(f"{path} is missing: run `bash hack/ensure-checkov.sh` (or `make tools`)")
    return path


def scan(directory: Path, framework: str) -> list[dict]:
    """The failed checks of one checkov run (any kind of output problem fails the test)."""
    proc = subprocess.run([str(checkov()), "--config-file", str(CONFIG), "-d", str(directory), "--framework",
                           framework, "-o", "json"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov exited {proc.returncode} without a report:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    reports = reports if isinstance(reports, list) else [reports]
    assert any(r.get("summary", {}).get("passed", 0) > 0 for r in reports), f"checkov checked nothing: {reports}"
    return [f for r in reports for f in r["results"]["failed_checks"]]


def describe(failed: list[dict]) -> str:
    return "\n".join(f"{f['check_id']} {f['check_name']}: {f['resource']} ({f['file_path']})" for f in failed)


def test_rendered_manifests_pass_checkov(all_rendered, tmp_path):
    for profile in helmtool.PROFILE_NAMES:
        objs = [o for o in all_rendered[profile] if o["kind"] != "CustomResourceDefinition"]
        (tmp_path / f"{profile}.yaml").write_text(yaml.safe_dump_all(objs, sort_keys=False))
    failed = scan(tmp_path, "kubernetes")
    assert not failed, describe(failed)


def test_dockerfiles_pass_checkov():
    failed = scan(helmtool.ROOT / "images", "dockerfile")
    assert not failed, describe(failed)
