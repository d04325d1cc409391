"""Pure builders of the operator: spec → job config, KafkaTopics, ConfigMap, SparkApplication, Job; upgrade
decisions; the semantic checks; status logic. The manifests' validity against the real upstream schemas is
checked by the API-server tests (tests/integration/test_operator_apiserver.py)."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
import yaml

from sensorcast import config as job_config
from sensorcast.io import datasets
from sensorcast_operator import checks, manifests, names, status, upgrade
from sensorcast_operator.pipeline_config import build_config, config_yaml
from sensorcast_operator.schema_defaults import defaulted_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = yaml.safe_load((ROOT / "operator/examples/keti.yaml").read_text())
STREAM_FLAGS = {"--bootstrap-servers", "--input-topic", "--output-topic", "--dead-letter-topic", "--checkpoint",
                "--trigger", "--config", "--opentsdb", "--parquet"}
REPLAY_FLAGS = {"--bootstrap-servers", "--topic", "--speedup", "--batch", "--dead-letter-topic", "--dataset",
                "--config", "--format", "--start", "--end"}


def pipeline(spec: dict, name: str = "keti", namespace: str = "ns1") -> manifests.Pipeline:
    return manifests.Pipeline(name, namespace, defaulted_spec(spec))


def example(**changes) -> manifests.Pipeline:
    spec = yaml.safe_load(yaml.safe_dump(EXAMPLE["spec"]))
    for dotted, value in changes.items():
        node = spec
        *head, last = dotted.split("__")
        for key in head:
            node = node.setdefault(key, {})
        node[last] = value
    return pipeline(spec)


def app(p: manifests.Pipeline, run: int = 0) -> dict:
    return manifests.spark_application(p, run, upgrade.encode(upgrade.state_fields(p)))


def flags(args: list[str]) -> set[str]:
    return {a for a in args if a.startswith("--")}


def test_config_map_is_a_valid_job_config(tmp_path):
    p = example()
    text = manifests.config_map(p)["data"]["config.yaml"]
    path = tmp_path / "config.yaml"
    path.write_text(text)
    cfg = job_config.load(path)  # the job's own loader and validator
    assert set(cfg["models"]) == {"persistence", "ema", "ar-rls", "spatial-rls", "ensemble"}
    assert cfg["models"]["spatial-rls"]["neighbours"] == 4
    assert cfg["models"]["ema"]["alpha"] == 0.3
    assert cfg["measures"] == ["co2", "humidity", "temperature"]
    assert cfg["detection"]["ranges"]["co2"] == [250.0, 5000.0]
    assert cfg["detection"]["ranges"]["temperature"] == [-10.0, 60.0]  # job defaults kept for the rest
    assert cfg["spark"]["shards"] == 3  # the example's kafka.partitions


def test_minimal_spec_gets_every_model_and_the_parameter_names_of_the_job(tmp_path):
    p = pipeline({"kafka": {"bootstrapServers": "kafka:9092"},
                  "models": [{"name": "spatial-rls", "levelForgetting": 0.999, "gap": 3}, {"name": "persistence"}],
                  "sensors": {"neighbours": 7, "neighbourMethod": "correlation"}})
    cfg = build_config(p.spec)
    assert cfg["models"]["spatial-rls"] == {"level_forgetting": 0.999, "gap": 3, "neighbours": 7,
                                            "method": "correlation"}
    (tmp_path / "c.yaml").write_text(config_yaml(p.spec))
    assert job_config.load(tmp_path / "c.yaml")["models"]["spatial-rls"]["level_forgetting"] == 0.999
    full = build_config(pipeline({"kafka": {"bootstrapServers": "kafka:9092"}}).spec)
    assert list(full["models"]) == ["persistence", "ema", "ar-rls", "spatial-rls", "ensemble"]


def test_spark_application_runs_sensorcast_stream_with_the_issue3_flags():
    p = example()
    sa = app(p)
    spec = sa["spec"]
    assert sa["apiVersion"] == "sparkoperator.k8s.io/v1beta2" and sa["kind"] == "SparkApplication"
    assert spec["type"] == "Python" and spec["pythonVersion"] == "3" and spec["mode"] == "cluster"
    assert "deps" not in spec  # the Kafka connector is baked into the image
    assert spec["restartPolicy"]["type"] == "OnFailure" and spec["restartPolicy"]["onFailureRetries"] == 10
    args = spec["arguments"]
    assert args[0] == "stream" and flags(args) <= STREAM_FLAGS
    assert flags(args) == STREAM_FLAGS  # the example enables every sink
    opt = dict(zip(args[1::2], args[2::2], strict=False))
    assert opt["--bootstrap-servers"] == "sensorcast-kafka-bootstrap.ns1.svc:9092"
    assert opt["--input-topic"] == "keti-readings" and opt["--output-topic"] == "keti-forecasts"
    assert opt["--checkpoint"] == "hdfs://hdfs-namenode:8020/sensorcast/checkpoints/ns1/keti/run-0"
    assert opt["--config"] == names.CONFIG_FILE
    assert spec["suspend"] is False
    assert spec["volumes"][0] == {"name": "config", "configMap": {"name": "keti-config"}}
    assert spec["driver"]["annotations"][names.ANN_CONFIG_HASH] == manifests.config_hash(p)


def test_spark_spec_hash_changes_only_with_what_the_stream_runs():
    base = app(example())["metadata"]["annotations"][names.ANN_SPEC_HASH]
    assert app(example())["metadata"]["annotations"][names.ANN_SPEC_HASH] == base  # deterministic
    reordered = pipeline(dict(reversed(list(EXAMPLE["spec"].items()))))
    assert app(reordered)["metadata"]["annotations"][names.ANN_SPEC_HASH] == base
    for unrelated in ({"dataset__speedup": "60"}, {"kafka__retentionHours": 24}):
        assert app(example(**unrelated))["metadata"]["annotations"][names.ANN_SPEC_HASH] == base, unrelated
    for related in ({"models": [{"name": "persistence"}, {"name": "ema", "alpha": 0.5}]},
                    {"restartNonce": 1}, {"suspend": True}, {"spark__trigger": "30 seconds"},
                    {"detection__z": 4}):
        assert app(example(**related))["metadata"]["annotations"][names.ANN_SPEC_HASH] != base, related


def test_restart_nonce_restarts_without_a_new_config():
    a, b = example(), example(restartNonce=3)
    assert manifests.config_hash(a) == manifests.config_hash(b)
    assert app(b)["spec"]["driver"]["annotations"][names.ANN_RESTART_NONCE] == "3"


def test_replay_job_name_follows_its_template_but_not_suspend():
    job = manifests.replay_job(example())
    cmd = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert cmd[:2] == ["sensorcast", "replay"] and flags(cmd) <= REPLAY_FLAGS
    opt = dict(zip(cmd[2::2], cmd[3::2], strict=False))
    assert opt["--topic"] == "keti-readings" and opt["--speedup"] == "600" and opt["--dataset"] == "keti"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert manifests.replay_job(example(suspend=True))["metadata"]["name"] == job["metadata"]["name"]
    assert manifests.replay_job(example(suspend=True))["spec"]["suspend"] is True
    assert manifests.replay_job(example(dataset__speedup="60"))["metadata"]["name"] != job["metadata"]["name"]
    spec = yaml.safe_load(yaml.safe_dump(EXAMPLE["spec"]))
    spec["dataset"] = {"name": "keti", "batch": "day"}
    cmd = manifests.replay_job(pipeline(spec))["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "--batch" in cmd and "--speedup" not in cmd
    del spec["dataset"]
    assert manifests.replay_job(pipeline(spec)) is None


def test_url_and_volume_datasets_are_mounted_where_the_config_points():
    spec = yaml.safe_load(yaml.safe_dump(EXAMPLE["spec"]))
    spec["dataset"] = {"url": "https://example.org/data/intel.txt.gz?x=1"}
    p = pipeline(spec)
    job = manifests.replay_job(p)
    init = job["spec"]["template"]["spec"]["initContainers"][0]
    assert init["command"][-2:] == ["https://example.org/data/intel.txt.gz?x=1", "/data/dataset/intel.txt.gz"]
    assert build_config(p.spec)["dataset"] == "/data/dataset/intel.txt.gz"
    spec["dataset"] = {"pvc": {"claimName": "data", "path": "keti/"}}
    p = pipeline(spec)
    vols = {v["name"]: v for v in manifests.replay_job(p)["spec"]["template"]["spec"]["volumes"]}
    assert vols["dataset"]["persistentVolumeClaim"] == {"claimName": "data", "readOnly": True}
    assert build_config(p.spec)["dataset"] == "/data/dataset/keti"


def test_kafka_topics_per_sink_and_kafka_mode():
    topics = manifests.kafka_topics(example())
    assert [t["metadata"]["name"] for t in topics] == ["keti-input", "keti-output", "keti-dead-letter"]
    assert all(t["metadata"]["labels"]["strimzi.io/cluster"] == "sensorcast" for t in topics)
    assert [t["spec"]["topicName"] for t in topics] == ["keti-readings", "keti-forecasts", "keti-dead-letter"]
    assert topics[0]["spec"]["partitions"] == 3 and topics[0]["spec"]["config"]["retention.ms"] == 168 * 3600000
    off = example(sinks={"kafka": {"enabled": False}, "parquet": {"uri": "file:///tmp/p"}})
    assert [t["metadata"]["name"] for t in manifests.kafka_topics(off)] == ["keti-input", "keti-dead-letter"]
    assert "--output-topic" not in app(off)["spec"]["arguments"]
    external = pipeline({"kafka": {"bootstrapServers": "broker:9092"}}, name="x")
    assert manifests.kafka_topics(external) == []
    assert external.topic("input") == "x-readings" and external.topic("dead-letter") == "x-dead-letter"


def test_upgrade_policy_resume_refuses_state_changes_and_reset_moves_the_checkpoint():
    old = example()
    prev = upgrade.Previous.from_app(app(old, run=2))
    assert prev is not None and prev.run == 2
    same = upgrade.decide(example(), prev)
    assert same == upgrade.Decision(2)
    tuned = example(models=[*EXAMPLE["spec"]["models"][:1], {"name": "ema", "alpha": 0.9},
                            *EXAMPLE["spec"]["models"][2:]])
    assert upgrade.decide(tuned, prev) == upgrade.Decision(2)  # a parameter the state does not depend on
    deeper = example(models=[{"name": "ar-rls", "order": 6}, {"name": "persistence"}])
    refused = upgrade.decide(deeper, prev)
    assert set(refused.refused) == {"ar-rls.order", "models", "neighbours", "neighbourMethod"}
    assert upgrade.decide(example(spark__shards=4), prev).refused == ("shards",)
    reset = example(upgradePolicy="reset", spark__shards=4)
    assert upgrade.decide(reset, prev) == upgrade.Decision(3)
    assert upgrade.decide(example(upgradePolicy="reset", detection__z=3), prev) == upgrade.Decision(3)
    assert upgrade.decide(example(upgradePolicy="reset"), prev) == upgrade.Decision(2)
    assert upgrade.decide(old, None) == upgrade.Decision(0)


@pytest.mark.parametrize("name", ["keti", "aqi36", "intel-extract"])
def test_bundled_table_matches_the_real_data_sets(name):
    panel = datasets.load(name)
    assert checks.BUNDLED[name]["sensors"] == len(panel.sensors)
    assert sorted(checks.BUNDLED[name]["measures"]) == sorted(panel.measures)


def test_intel_raw_layout_has_the_bundled_sensor_count():
    motes = (ROOT / "data/intel-lab/mote_locs.txt").read_text().split("\n")
    assert checks.BUNDLED["intel-raw"]["sensors"] == len([m for m in motes if m.strip()])


def test_dataset_fit_checks():
    assert checks.check_dataset_fit(example()) is None
    too_many = checks.check_dataset_fit(example(sensors__neighbours=45))
    assert too_many.reason == "TooManyNeighbours" and "45 sensors" in too_many.message
    assert checks.check_dataset_fit(example(sensors__neighbours=44)) is None
    no_spatial = example(sensors__neighbours=60, models=[{"name": "persistence"}])
    assert checks.check_dataset_fit(no_spatial) is None
    wrong = checks.check_dataset_fit(example(sensors__measures=["pm25", "co2"]))
    assert wrong.reason == "UnknownMeasure" and "pm25" in wrong.message


def test_cluster_checks_use_the_lookup():
    p = example()
    assert checks.check_cluster(p, lambda kind, name: True) is None
    missing = checks.check_cluster(p, lambda kind, name: kind != "Kafka")
    assert missing.reason == "KafkaClusterNotFound" and not missing.permanent


def test_url_check_against_a_real_local_server(tmp_path):
    (tmp_path / "data.csv").write_text("timestamp,sensor,measure,value\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(tmp_path), **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert checks.check_url(f"http://127.0.0.1:{port}/data.csv") is None
        gone = checks.check_url(f"http://127.0.0.1:{port}/nope.csv")
        assert gone.reason == "DatasetUnreachable" and "404" in gone.message
    finally:
        server.shutdown()
        server.server_close()
    refused = checks.check_url(f"http://127.0.0.1:{port}/data.csv", timeout=2)
    assert refused.reason == "DatasetUnreachable" and not refused.permanent


def _obs(app_state=None, job=None, topics_ready=True, replay=True) -> status.Observed:
    topics = [{"metadata": {"name": f"t{i}"}, "spec": {"topicName": f"t{i}"},
               "status": {"conditions": [{"type": "Ready", "status": "True" if topics_ready else "False"}]}}
              for i in range(3)]
    sa = None if app_state is None else {"metadata": {"name": "a"},
                                         "status": {"applicationState": {"state": app_state}}}
    return status.Observed(topics, {"metadata": {"name": "c"}}, sa, job, strimzi=True, replay=replay)


def _job(kind: str) -> dict:
    st = {"Running": {"active": 1}, "Succeeded": {"conditions": [{"type": "Complete", "status": "True"}]},
          "Failed": {"conditions": [{"type": "Failed", "status": "True"}]}}[kind]
    return {"metadata": {"name": "j"}, "spec": {}, "status": st}


OK = status.Condition("Reconciled", "True", "ChildrenInSync")


@pytest.mark.parametrize("obs, suspend, phase, ready, reason", [
    (_obs(None), False, "Provisioning", "False", "NotCreated"),
    (_obs("SUBMITTED", _job("Running")), False, "Provisioning", "False", "Submitted"),
    (_obs("RUNNING", _job("Running"), topics_ready=False), False, "Provisioning", "False", "TopicsNotReady"),
    (_obs("RUNNING", _job("Running")), False, "Replaying", "True", "Running"),
    (_obs("RUNNING", _job("Succeeded")), False, "Running", "True", "Running"),
    (_obs("RUNNING", None, replay=False), False, "Running", "True", "Running"),
    (_obs("RUNNING", _job("Failed")), False, "Degraded", "True", "Running"),
    (_obs("PENDING_RERUN", _job("Succeeded")), False, "Degraded", "False", "PendingRerun"),
    (_obs("FAILED", _job("Succeeded")), False, "Failed", "False", "SparkFailed"),
    (_obs("SUSPENDED", _job("Running")), True, "Suspended", "False", "Suspended"),
])
def test_phase_and_ready(obs, suspend, phase, ready, reason):
    st = status.compute({}, obs, suspend, 3, OK)
    conds = {c["type"]: c for c in st["conditions"]}
    assert st["phase"] == phase
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == (ready, reason)
    assert [c["type"] for c in st["conditions"]] == list(status.CONDITION_TYPES)
    assert all(c["observedGeneration"] == 3 for c in st["conditions"])


def test_verdicts_drive_ready_and_phase_and_survive_child_updates():
    bad = status.Condition("Reconciled", "False", "TooManyNeighbours", "sensors.neighbours is 50 ...")
    st = status.compute({}, _obs(None), False, 2, bad)
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert st["phase"] == "Failed" and ready["reason"] == "TooManyNeighbours"
    later = status.compute(st, _obs("RUNNING", _job("Running")), False, 2, None)  # a child event, no verdict
    assert next(c for c in later["conditions"] if c["type"] == "Ready")["reason"] == "TooManyNeighbours"
    waiting = status.Condition("Reconciled", "False", "KafkaClusterNotFound", "no Kafka")
    assert status.compute({}, _obs(None), False, 2, waiting)["phase"] == "Pending"
    refused = status.Condition("Reconciled", "False", "UpgradeRefused", "...")
    assert status.compute({}, _obs("RUNNING"), False, 2, refused)["phase"] == "Degraded"


def test_transition_times_and_events():
    first = status.compute({}, _obs("SUBMITTED", _job("Running")), False, 1, OK)
    for c in first["conditions"]:
        c["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    again = status.compute(first, _obs("SUBMITTED", _job("Running")), False, 1, OK)
    assert all(c["lastTransitionTime"] == "2020-01-01T00:00:00Z" for c in again["conditions"])
    assert status.transitions(first, again) == []
    running = status.compute(first, _obs("RUNNING", _job("Running")), False, 1, OK)
    changed = {c["type"]: c["lastTransitionTime"] for c in running["conditions"]}
    assert changed["StreamingRunning"] != "2020-01-01T00:00:00Z" and changed["TopicsReady"] == "2020-01-01T00:00:00Z"
    events = status.transitions(first, running)
    assert ("Normal", "PhaseReplaying", "phase Provisioning → Replaying") in events
    assert any(r == "Running" and m.startswith("Ready=True") for _, r, m in events)


def test_defaults_come_from_the_crd():
    spec = defaulted_spec({"kafka": {"bootstrapServers": "k:9092"}})
    assert spec["spark"]["trigger"] == "10 seconds" and spec["spark"]["driver"]["memory"] == "1g"
    assert spec["sinks"]["kafka"]["enabled"] is True and spec["upgradePolicy"] == "resume"
    assert spec["kafka"]["partitions"] == 3 and spec["sensors"]["neighbours"] == 4


def test_rendered_commands_parse_with_the_job_cli():
    """The contract between operator and job: the real ``sensorcast`` parser takes what the builders render."""
    from sensorcast import cli

    p = example(dataset__start="2013-08-25T16:00:00Z", dataset__end="2013-08-25T20:00:00Z")
    cmd = manifests.replay_job(p)["spec"]["template"]["spec"]["containers"][0]["command"]
    args = cli.parser().parse_args(cmd[1:])
    assert (args.cmd, args.start, args.end, args.speedup) == ("replay", "2013-08-25T16:00:00Z",
                                                              "2013-08-25T20:00:00Z", 600.0)
    args = cli.parser().parse_args(manifests.spark_application(p, 0, "fp")["spec"]["arguments"])
    assert (args.cmd, args.opentsdb, args.trigger) == ("stream", "http://opentsdb:4242", "10 seconds")


def test_every_pod_is_restricted_and_limited():
    """Restricted Pod Security: non-root, no escalation, no capabilities, RuntimeDefault seccomp; CPU limits."""
    p = example(dataset={"url": "https://example.org/data.txt.gz"})
    job = manifests.replay_job(p)["spec"]["template"]["spec"]
    assert job["securityContext"]["runAsNonRoot"] is True
    for c in job["containers"] + job["initContainers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
        assert sc["seccompProfile"]["type"] == "RuntimeDefault" and c["resources"]["limits"]["cpu"]
    spec = manifests.spark_application(p, 0, "fp")["spec"]
    for role in ("driver", "executor"):
        assert spec[role]["podSecurityContext"]["runAsNonRoot"] is True
        assert spec[role]["securityContext"]["allowPrivilegeEscalation"] is False
        assert spec[role]["coreLimit"] == str(spec[role]["cores"])


def test_shards_default_to_the_input_partitions_and_guard_the_checkpoint():
    """No spark.shards: one shard per input partition; growing the partitions then changes the state's key,
    which the resume policy refuses (the user sets spark.shards or resets)."""
    p = example(kafka__partitions=4)
    assert "shards" not in p.spec["spark"] and p.shards == 4
    assert build_config(p.spec)["spark"] == {"shards": 4, "shuffle_partitions": 4}
    app = manifests.spark_application(p, 0, "fp")["spec"]
    assert app["sparkConf"]["spark.sql.shuffle.partitions"] == "4"
    assert example(kafka__partitions=4, spark__shards=2).shards == 2
    before = upgrade.Previous(upgrade.state_fields(p), 0, manifests.config_hash(p))
    assert upgrade.decide(example(kafka__partitions=6), before).refused == ("shards",)
    assert upgrade.decide(example(kafka__partitions=6, spark__shards=4), before).refused == ()
