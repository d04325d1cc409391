"""Session fixture: a real etcd + kube-apiserver (+ the garbage collector) for the operator and e2e tests,
started once per session by hack/kube_testenv.py, with the project's and the upstream CRDs installed; a fresh
namespace per test."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.apiserver.harness import kube_testenv


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory) -> Iterator[Any]:
    """etcd + kube-apiserver on loopback, CRDs installed, KUBECONFIG pointing at it for this session."""
    try:
        import kopf  # noqa: F401
    except ImportError:
        pytest.fail("the operator extra is missing: make setup (pip install -e '.[operator]')")
    try:
        for tool in ("etcd", "kube-apiserver"):
            kube_testenv.binary(tool)
        kube_testenv.upstream_crd_dir()
    except kube_testenv.TestEnvError as exc:
        pytest.fail(str(exc))
    import urllib3

    from sensorcast_operator import kube

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the loopback self-signed certificate
    cp = kube_testenv.ControlPlane(workdir=tmp_path_factory.mktemp("kube"))
    t0 = time.monotonic()
    cp.start()
    print(f"\nkube-apiserver ready in {time.monotonic() - t0:.1f} s at {cp.url}")
    try:
        cp.install_crds()
    except BaseException:
        cp.stop()
        raise
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(cp.kubeconfig)
    os.environ["SENSORCAST_RETRY_DELAY"] = "1"
    kube.reset_client()
    yield cp
    cp.stop()
    kube.reset_client()
    if old is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = old


@pytest.fixture
def namespace(control_plane) -> str:
    """A fresh namespace per test (namespaces are never deleted: there is no namespace controller here)."""
    from sensorcast_operator import kube

    name = f"t-{secrets.token_hex(4)}"
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name
