"""`helm lint --strict` and `helm template` of every chart: each subchart alone with its defaults, and the
umbrella (upstream dependencies removed) with every values profile of tests/charts/profiles/."""

from __future__ import annotations

import pytest
import yaml

from tests.charts import helmtool


@pytest.mark.parametrize("chart", helmtool.SUBCHARTS)
def test_subchart_lints_and_renders_alone(chart):
    path = helmtool.CHARTS / chart
    helmtool.run([helmtool.tool("helm"), "lint", "--strict", path])
    objs = helmtool.template(path)
    assert objs, f"{chart} renders nothing"
    assert all(o.get("metadata", {}).get("name") for o in objs)


@pytest.mark.parametrize("profile", helmtool.PROFILE_NAMES)
def test_umbrella_lints_with_profile(umbrella, profile):
    helmtool.run([helmtool.tool("helm"), "lint", "--strict", umbrella, *helmtool.profile_args(profile)])


@pytest.mark.parametrize("profile", helmtool.PROFILE_NAMES)
def test_umbrella_renders_unique_objects(render, profile):
    objs = render(profile)
    keys = [(o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs]
    dupes = {k for k in keys if keys.count(k) > 1}
    assert not dupes, f"objects rendered twice: {dupes}"


def test_conditions_switch_subcharts_off(render):
    kinds = {(o["kind"], o["metadata"]["name"]) for o in render("minimal")}
    assert ("Kafka", "sensorcast") in kinds and ("Deployment", "sensorcast-operator") in kinds
    assert not {n for k, n in kinds if n.startswith(("hdfs", "opentsdb", "grafana"))}


def test_umbrella_pins_upstream_operators_with_conditions():
    deps = {d["name"]: d for d in helmtool.upstream_dependencies()}
    assert set(deps) == {"strimzi-kafka-operator", "spark-operator"}
    for dep in deps.values():
        assert dep["repository"].startswith("https://")
        assert all(part.isdigit() for part in dep["version"].split(".")), f"{dep['name']} is not pinned exactly"
        assert dep["condition"].endswith(".enabled")
    values = yaml.safe_load((helmtool.UMBRELLA / "values.yaml").read_text())
    for dep in deps.values():
        assert values[dep.get("alias", dep["name"])]["enabled"] is True


def test_schema_rejects_a_bad_value():
    """values.schema.json is enforced: a typo'd key and a wrong enum fail the render."""
    helm = helmtool.tool("helm")
    for chart, bad in (("opentsdb", "hbase.rootDir=s3"), ("grafana", "admin.password=admin"),
                       ("hdfs", "replication=0")):
        proc = helmtool.subprocess.run([str(helm), "template", "x", str(helmtool.CHARTS / chart), "--set", bad],
                                       capture_output=True, text=True, timeout=120)
        assert proc.returncode != 0, f"{chart} accepted --set {bad}"
        assert "schema" in proc.stderr.lower(), proc.stderr
