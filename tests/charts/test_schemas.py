"""Every rendered object validated by kubeconform (strict: unknown fields are errors) against the Kubernetes 1.37
schemas and the CRDs (ours, Strimzi's Kafka/KafkaNodePool, spark-operator's SparkApplication). No object may be
skipped for want of a schema."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.charts import helmtool, schemas


@pytest.fixture(scope="session")
def locations(tmp_path_factory, all_rendered) -> list[str]:
    """One schema folder for the objects of every profile."""
    objs = [o for objs in all_rendered.values() for o in objs]
    return schemas.build(tmp_path_factory.mktemp("schemas"), objs)


@pytest.mark.parametrize("profile", helmtool.PROFILE_NAMES)
def test_kubeconform_accepts_every_object(render, profile, locations, tmp_path):
    objs = render(profile)
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(yaml.safe_dump_all(objs, sort_keys=False))
    proc = helmtool.subprocess.run(
        [str(helmtool.tool("kubeconform")), "-strict", "-summary", "-output", "json", *locations, str(manifest)],
        capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout)
    bad = [f"{r['kind']}/{r['name']}: {r['status']} {r.get('msg', '')}" for r in report["resources"]
           if r["status"] != "statusValid"]
    assert not bad and proc.returncode == 0, "\n".join(bad) or proc.stderr
    assert report["summary"]["valid"] == len(objs)


def test_kubeconform_catches_a_bad_field(locations, tmp_path):
    """The schemas really check: a typo in a container and in a Strimzi Kafka spec are both reported."""
    objs = helmtool.template(helmtool.CHARTS / "kafka-cluster")
    kafka = next(o for o in objs if o["kind"] == "Kafka")
    kafka["spec"]["kafka"]["listenerz"] = []
    pod = next(o for o in objs if o["kind"] == "Pod")
    pod["spec"]["containers"][0]["imagePullPolice"] = "Always"
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump_all([kafka, pod]))
    proc = helmtool.subprocess.run([str(helmtool.tool("kubeconform")), "-strict", "-output", "json", *locations,
                                    str(manifest)], capture_output=True, text=True, timeout=120)
    statuses = {r["kind"]: r["status"] for r in json.loads(proc.stdout)["resources"]}
    assert statuses == {"Kafka": "statusInvalid", "Pod": "statusInvalid"}, proc.stdout
