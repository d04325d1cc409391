"""A real `helm install`, `helm upgrade` and `helm uninstall` of the local umbrella against the test kube-apiserver
(no kubelet or controllers there, so --no-hooks: hook Jobs and test pods would never finish). Checks that Helm's
own release flow (server-side apply in Helm 4, CRDs from crds/ skipped when present) accepts the chart, and that
the generated Grafana password survives an upgrade (the Secret template reads it back with `lookup`)."""

from __future__ import annotations

import pytest

from tests.charts import helmtool

pytestmark = [pytest.mark.apiserver,
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]  # loopback cert


def helm(*args: str) -> str:
    return helmtool.run([helmtool.tool("helm"), *args]).stdout


def test_install_upgrade_uninstall(control_plane, umbrella, namespace):
    common = ["--namespace", namespace, "--no-hooks", "--set", f"spark-operator.spark.jobNamespaces={{{namespace}}}"]
    out = helm("install", "sensorcast", str(umbrella), *common)
    assert "STATUS: deployed" in out and "WARNING" not in out, out
    assert f"kubectl -n {namespace} apply -f operator/examples/keti.yaml" in out  # NOTES.txt
    secret = f"/api/v1/namespaces/{namespace}/secrets/grafana-admin"
    password = control_plane.request("GET", secret)["data"]["admin-password"]
    out = helm("upgrade", "sensorcast", str(umbrella), *common, "--set", "hdfs.datanode.replicas=2")
    assert "REVISION: 2" in out
    assert control_plane.request("GET", secret)["data"]["admin-password"] == password, "upgrade changed the password"
    sts = control_plane.request("GET", f"/apis/apps/v1/namespaces/{namespace}/statefulsets/hdfs-datanode")
    assert sts["spec"]["replicas"] == 2
    helm("uninstall", "sensorcast", "--namespace", namespace, "--no-hooks", "--wait=false")
    assert "sensorcast" not in helm("list", "--namespace", namespace, "-q").split()
