"""Server-side dry run of every profile's rendered umbrella against the real kube-apiserver of the operator tests
(`kubectl apply --server-side --dry-run=server`): admission, defaulting, CEL rules of the CRDs, immutable and
cross-field validation that schema checks miss, with the project's and the upstream CRDs installed. The
namespaces enforce the restricted Pod Security Standard, so the API server's own PodSecurity admission judges
every pod (and warns about every workload template)."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.charts import helmtool
from tests.integration.apiserver.harness import kube_testenv

pytestmark = pytest.mark.apiserver
PSS = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}


def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    try:
        binary = kube_testenv.binary("kubectl")
    except kube_testenv.TestEnvError as exc:
        pytest.fail(str(exc))
    return subprocess.run([str(binary), *args], input=stdin, capture_output=True, text=True, timeout=300,
                          env={**os.environ})


def ensure_namespaces(objs: list[dict]) -> None:
    """The namespaces the objects live in (restricted Pod Security enforced), and their "default" ServiceAccount
    (no controller-manager here makes it; pods that name no account are admitted against it)."""
    for ns in sorted({o["metadata"]["namespace"] for o in objs if o["metadata"].get("namespace")}):
        for doc in ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": PSS}},
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}}):
            proc = kubectl("apply", "--server-side", "--field-manager=chart-tests", "-f", "-",
                           stdin=yaml.safe_dump(doc))
            assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("profile", helmtool.PROFILE_NAMES)
def test_server_side_dry_run_accepts_every_object(control_plane, render, profile):
    objs = render(profile)
    ensure_namespaces(objs)
    proc = kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=helm", "-f", "-",
                   stdin=yaml.safe_dump_all(objs, sort_keys=False))
    assert proc.returncode == 0, proc.stderr
    assert "PodSecurity" not in proc.stderr, proc.stderr
    applied = [line for line in proc.stdout.splitlines() if "(server dry run)" in line]
    assert len(applied) == len(objs), proc.stdout


def test_pod_security_admission_is_live(control_plane, render):
    """The restricted level is enforced here: a test pod that asks for privilege escalation is refused."""
    pod = next(o for o in render("default") if o["kind"] == "Pod")
    ensure_namespaces([pod])
    bad = yaml.safe_load(yaml.safe_dump(pod))
    bad["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    proc = kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(bad))
    assert proc.returncode != 0 and "PodSecurity" in proc.stderr, proc.stdout + proc.stderr


def test_server_side_dry_run_rejects_what_the_api_server_rejects(control_plane, render):
    """The check is real: a Kafka with an unknown listener type and a Service with a port > 65535 are refused."""
    objs = [next(o for o in render("default") if o["kind"] == kind) for kind in ("Kafka", "Service")]
    ensure_namespaces(objs)
    bad = yaml.safe_load(yaml.safe_dump(objs))
    for obj in bad:
        if obj["kind"] == "Service":
            obj["spec"]["ports"][0]["port"] = 70000
        else:
            obj["spec"]["kafka"]["listeners"] = [{"name": "plain", "port": 9092, "type": "nosuchtype", "tls": False}]
    for obj in bad:
        proc = kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(obj))
        assert proc.returncode != 0, f"{obj['kind']} accepted: {proc.stdout}"
