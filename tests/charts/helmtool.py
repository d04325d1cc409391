"""The chart tools of the tests: the helm and kubeconform binaries that hack/build-helm-tools.sh builds (their
versions read from that script, so there is one pin), rendering charts to objects, and the "local umbrella": a
copy of charts/sensorcast whose Chart.yaml keeps only the file:// subcharts (the pinned upstream operator charts
need the internet; their CRDs come from ../shared/crds instead)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"
UMBRELLA = CHARTS / "sensorcast"
SUBCHARTS = ("kafka-cluster", "hdfs", "opentsdb", "grafana", "sensorcast-operator")
PROFILES = Path(__file__).resolve().parent / "profiles"
PROFILE_NAMES = sorted(p.stem for p in PROFILES.glob("*.yaml"))
RELEASE, NAMESPACE = "sensorcast", "sensorcast"
BUILD_SCRIPT = ROOT / "hack" / "build-helm-tools.sh"
CACHE = Path(os.environ.get("SENSORCAST_CACHE", Path.home() / ".cache" / "sensorcast"))
HINT = "run `bash hack/build-helm-tools.sh` (or `make tools`; needs Go and the Go module proxy)"


def pinned_version(tool: str) -> str:
    """HELM_VERSION / KUBECONFORM_VERSION as the build script defaults them (env overrides like the script)."""
    var = f"{tool.upper()}_VERSION"
    m = re.search(rf"^{var}=\$\{{{var}:-([^}}]+)\}}", BUILD_SCRIPT.read_text(), re.M)
    assert m, f"{BUILD_SCRIPT} does not pin {var}"
    return os.environ.get(var, m.group(1))


def tool(name: str) -> Path:
    """Path of the built helm or kubeconform; fails the test with the install hint when it is missing."""
    path = CACHE / f"{name}-{pinned_version(name)}" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: {HINT}")
    return path


def run(args: list, **kw) -> subprocess.CompletedProcess:
    """Run a command; on failure, fail the test with its output."""
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)
    if proc.returncode != 0:
        command = " ".join(map(str, args))
        pytest.fail(f"{command} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def profile_args(profile: str | None) -> list[str]:
    return ["-f", str(PROFILES / f"{profile}.yaml")] if profile else []


def template(chart: Path, *extra: str, include_crds: bool = False) -> list[dict]:
    """`helm template` the chart as release sensorcast in namespace sensorcast; the rendered objects, in order."""
    args = [tool("helm"), "template", RELEASE, chart, "--namespace", NAMESPACE, *extra]
    out = run(args + (["--include-crds"] if include_crds else [])).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def build_local_umbrella(dest: Path) -> Path:
    """charts/sensorcast copied to dest with only its file:// dependencies (made absolute), built with
    `helm dependency build --skip-refresh` (packages the local subcharts into charts/; no network)."""
    chart = dest / "sensorcast"
    shutil.copytree(UMBRELLA, chart, ignore=shutil.ignore_patterns("charts", "Chart.lock", "*.tgz"))
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    local = []
    for dep in meta["dependencies"]:
        repo = dep["repository"]
        if repo.startswith("file://"):
            local.append({**dep, "repository": "file://" + str((UMBRELLA / repo[len("file://"):]).resolve())})
    meta["dependencies"] = local
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    run([tool("helm"), "dependency", "build", "--skip-refresh", chart])
    return chart


def upstream_dependencies() -> list[dict]:
    """The umbrella's dependencies that are not in this repository (fetched by `helm dependency build`)."""
    meta = yaml.safe_load((UMBRELLA / "Chart.yaml").read_text())
    return [d for d in meta["dependencies"] if not d["repository"].startswith("file://")]


def pod_spec(obj: dict) -> dict | None:
    """The pod spec of a Pod, a workload or a Job; None for other kinds."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj["spec"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return obj["spec"]["template"]["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def containers(spec: dict) -> list[dict]:
    """Every container of a pod spec, init containers (and native sidecars) included."""
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
