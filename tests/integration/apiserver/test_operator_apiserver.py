"""The operator against a real kube-apiserver + etcd with the upstream CRDs (Strimzi 1.2.0, spark-operator 2.5.2).

The API server validates every child against the upstream schemas (and would prune fields they lack, which the
"live spec == rendered spec" checks would catch). No Strimzi/spark-operator/kubelet runs here: the tests write
the status those controllers would write (kube_fixtures). The one controller that runs is the garbage
collector (kube-controller-manager --controllers=garbagecollector), so deletion by owner references is real.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from tests.integration.apiserver.harness import (
    complete_job,
    kafka_cluster,
    kube_testenv,
    mark_topics_ready,
    set_spark_state,
    wait_for,
)

pytestmark = [pytest.mark.apiserver,  # the loopback API server has a self-signed certificate
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = yaml.safe_load((ROOT / "operator/examples/keti.yaml").read_text())
OPERATOR = ["run", "--standalone", "--verbose", "-m", "sensorcast_operator.handlers"]


def kube():
    from sensorcast_operator import kube as k

    return k


def names():
    from sensorcast_operator import names as n

    return n


def fp_body(namespace: str, name: str = "keti", **spec_changes) -> dict:
    body = copy.deepcopy(EXAMPLE)
    body["metadata"] = {"name": name, "namespace": namespace}
    body["spec"].update(spec_changes)
    return body


def api_message(exc: ApiException) -> str:
    return json.loads(exc.body)["message"]


def get_fp(namespace: str, name: str = "keti") -> dict:
    return kube().get("ForecastPipeline", namespace, name)


def condition(fp: dict, type_: str) -> dict:
    return next((c for c in (fp.get("status") or {}).get("conditions") or [] if c["type"] == type_), {})


def in_sync(namespace: str, name: str = "keti"):
    """The pipeline when its status says the current generation's children are applied."""
    fp = get_fp(namespace, name)
    st = fp.get("status") or {}
    if st.get("observedGeneration") == fp["metadata"]["generation"] and condition(fp, "Reconciled").get(
            "status") == "True":
        return fp
    return None


def children(namespace: str, pipeline: str = "keti") -> dict[str, list[dict]]:
    sel = f"{names().PIPELINE_LABEL}={pipeline}"
    return {kind: kube().list_(kind, namespace, sel) for kind in ("KafkaTopic", "ConfigMap", "SparkApplication",
                                                                  "Job")}


def rendered(namespace: str, fp: dict) -> dict:
    """What the pure builders make of the live (server-defaulted) spec."""
    from sensorcast_operator import manifests, upgrade

    p = manifests.Pipeline(fp["metadata"]["name"], namespace, fp["spec"])
    run = fp["status"]["checkpoint"]["run"]
    return {
        "topics": {t["metadata"]["name"]: t for t in manifests.kafka_topics(p)},
        "config": manifests.config_map(p),
        "app": manifests.spark_application(p, run, upgrade.encode(upgrade.state_fields(p))),
        "job": manifests.replay_job(p),
    }


def events(namespace: str, name: str = "keti") -> list[dict]:
    return [e for e in kube().list_("Event", namespace) if e["involvedObject"]["name"] == name
            and e["involvedObject"]["kind"] == "ForecastPipeline"]


def runner(namespace: str):
    from kopf.testing import KopfRunner

    return KopfRunner([*OPERATOR, "-n", namespace])


def assert_clean_exit(r) -> None:
    assert r.exception is None, r.output[-3000:]
    assert r.exit_code == 0, r.output[-3000:]
    assert "Traceback" not in r.output, r.output[-5000:]


def start(namespace: str, **spec_changes) -> dict:
    kube().create(kafka_cluster(namespace))
    kube().create(fp_body(namespace, **spec_changes))
    return wait_for(lambda: in_sync(namespace), "the pipeline's children to be applied")


def spark_generation(namespace: str) -> int:
    return kube().get("SparkApplication", namespace, "keti-stream")["metadata"]["generation"]


def test_schema_rejects_what_it_can(namespace):
    """Structural schema + CEL: invalid specs never reach the operator (no operator runs here)."""
    bad = {
        "kafka needs bootstrapServers or strimziCluster": {"kafka": {"partitions": 3}},
        "dataset needs exactly one of": {"dataset": {"name": "keti", "url": "http://x/y.csv"}},
        "speedup and dataset.batch are alternatives": {"dataset": {"name": "keti", "speedup": "2", "batch": "day"}},
        "ensemble needs at least one other model": {"models": [{"name": "ensemble"}]},
        "alpha is a parameter of ema only": {"models": [{"name": "ar-rls", "alpha": 0.5}]},
        "Unsupported value": {"models": [{"name": "lstm"}]},
        "should be less than or equal to 64": {"sensors": {"neighbours": 65}},
        "a range needs low < high": {"detection": {"ranges": {"co2": {"low": 10, "high": 1}}}},
        "spec.spark.trigger": {"spark": {"trigger": "soon"}},
        "enable at least one sink": {"sinks": {"kafka": {"enabled": False}}},
    }
    for i, (message, change) in enumerate(bad.items()):
        with pytest.raises(ApiException) as err:
            kube().create(fp_body(namespace, name=f"bad-{i}", **change))
        assert err.value.status == 422, change
        assert message in api_message(err.value), (change, err.value.body)
    body = fp_body(namespace, name="x" * 41)
    with pytest.raises(ApiException) as err:
        kube().create(body)
    assert "at most 40 characters" in api_message(err.value)
    created = kube().create(fp_body(namespace, name="ok"))
    assert created["spec"]["spark"]["driver"]["memory"] == "1g"  # server-side defaults
    assert created["spec"]["sensors"]["neighbourMethod"] == "auto"
    created["spec"]["kafka"]["partitions"] = 1
    with pytest.raises(ApiException) as err:
        kube().replace(created)
    assert "Kafka partitions can only grow" in api_message(err.value)


def test_create_makes_children_that_the_upstream_schemas_accept(namespace):
    with runner(namespace) as r:
        fp = start(namespace)
        live = children(namespace)
        want = rendered(namespace, fp)
        assert sorted(t["metadata"]["name"] for t in live["KafkaTopic"]) == sorted(want["topics"])
        for t in live["KafkaTopic"]:
            assert t["spec"] == want["topics"][t["metadata"]["name"]]["spec"]  # nothing pruned or changed
            assert t["metadata"]["labels"]["strimzi.io/cluster"] == "sensorcast"
        [cm], [app], [job] = live["ConfigMap"], live["SparkApplication"], live["Job"]
        assert cm["data"] == want["config"]["data"]
        assert app["spec"] == want["app"]["spec"]
        assert app["spec"]["type"] == "Python" and "deps" not in app["spec"]
        assert job["metadata"]["name"] == want["job"]["metadata"]["name"]
        assert job["spec"]["template"]["spec"]["containers"][0]["command"] == \
            want["job"]["spec"]["template"]["spec"]["containers"][0]["command"]
        for child in [*live["KafkaTopic"], cm, app, job]:
            [ref] = child["metadata"]["ownerReferences"]
            assert (ref["kind"], ref["name"], ref["uid"]) == ("ForecastPipeline", "keti", fp["metadata"]["uid"])
            assert ref["controller"] is True and ref["blockOwnerDeletion"] is True
        assert fp["status"]["phase"] == "Provisioning"
        assert condition(fp, "Ready")["status"] == "False"
        assert fp["status"]["checkpoint"]["uri"].endswith(f"/{namespace}/keti/run-0")
        ann = get_fp(namespace)["metadata"].get("annotations") or {}
        assert not any(k.startswith("kopf.zalando.org") for k in ann), ann  # our own prefix only
        assert not (get_fp(namespace)["metadata"].get("finalizers"))

        # play Strimzi and spark-operator: topics ready, the stream running → Replaying, Ready
        assert mark_topics_ready(namespace, "keti") == 3
        set_spark_state(namespace, "keti-stream", "RUNNING")
        fp = wait_for(lambda: (f := get_fp(namespace))["status"]["phase"] == "Replaying" and f, "phase Replaying")
        assert condition(fp, "Ready")["status"] == "True"
        assert condition(fp, "TopicsReady")["status"] == "True"
        assert fp["status"]["children"]["sparkApplication"] == {"name": "keti-stream", "state": "RUNNING"}
        complete_job(namespace, job["metadata"]["name"])
        fp = wait_for(lambda: (f := get_fp(namespace))["status"]["phase"] == "Running" and f, "phase Running")
        assert fp["status"]["children"]["replayJob"]["state"] == "Succeeded"
        assert condition(fp, "ReplayComplete")["status"] == "True"
        reasons = [e["reason"] for e in events(namespace)]
        assert "PhaseProvisioning" in reasons and "PhaseReplaying" in reasons and "PhaseRunning" in reasons

        # the stream fails for good → Failed with spark-operator's message
        set_spark_state(namespace, "keti-stream", "FAILED", "driver exited with code 1")
        fp = wait_for(lambda: (f := get_fp(namespace))["status"]["phase"] == "Failed" and f, "phase Failed")
        assert condition(fp, "Ready")["reason"] == "SparkFailed"
        assert "driver exited with code 1" in condition(fp, "Ready")["message"]
    assert_clean_exit(r)


def test_kubectl_get_fp_shows_the_printer_columns(namespace, control_plane):
    try:
        kubectl = kube_testenv.binary("kubectl")
    except kube_testenv.TestEnvError as exc:
        pytest.fail(str(exc))
    with runner(namespace) as r:
        start(namespace)
        mark_topics_ready(namespace, "keti")
        set_spark_state(namespace, "keti-stream", "RUNNING")
        wait_for(lambda: get_fp(namespace)["status"]["phase"] == "Replaying", "phase Replaying")
    assert_clean_exit(r)
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig)}
    out = subprocess.run([str(kubectl), "get", "fp", "-n", namespace], env=env, capture_output=True, text=True,
                         check=True).stdout
    print(out)
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "PHASE", "READY", "SPARK", "REPLAY", "AGE"]
    assert row.split()[:5] == ["keti", "Replaying", "True", "RUNNING", "Pending"]
    wide = subprocess.run([str(kubectl), "get", "forecastpipelines.sensorcast.dev", "-n", namespace, "-o", "wide"],
                          env=env, capture_output=True, text=True, check=True).stdout
    assert wide.splitlines()[0].split() == ["NAME", "PHASE", "READY", "REASON", "SPARK", "REPLAY", "AGE"]


def test_model_update_patches_the_spark_application_once_and_unrelated_changes_not(namespace):
    with runner(namespace) as r:
        fp = start(namespace)
        gen0 = spark_generation(namespace)
        old_job = children(namespace)["Job"][0]["metadata"]["name"]
        models = copy.deepcopy(fp["spec"]["models"])
        next(m for m in models if m["name"] == "ema")["alpha"] = 0.6
        kube().patch("ForecastPipeline", namespace, "keti", [{"op": "replace", "path": "/spec/models",
                                                              "value": models}], content_type=kube().JSON_PATCH)
        fp = wait_for(lambda: in_sync(namespace) and get_fp(namespace)["status"]["observedGeneration"] == 2
                      and get_fp(namespace), "generation 2 applied")
        assert spark_generation(namespace) == gen0 + 1
        cm = kube().get("ConfigMap", namespace, "keti-config")
        assert "alpha: 0.6" in cm["data"]["config.yaml"]
        app = kube().get("SparkApplication", namespace, "keti-stream")
        assert app["spec"]["driver"]["annotations"][names().ANN_CONFIG_HASH] == fp["status"]["configHash"]
        assert app["spec"]["arguments"] == rendered(namespace, fp)["app"]["spec"]["arguments"]
        assert fp["status"]["checkpoint"]["run"] == 0  # resume: same checkpoint
        # an event on the SparkApplication (its status) must not re-patch it
        set_spark_state(namespace, "keti-stream", "RUNNING")
        wait_for(lambda: get_fp(namespace)["status"]["children"]["sparkApplication"]["state"] == "RUNNING",
                 "spark state mirrored")
        time.sleep(2)
        assert spark_generation(namespace) == gen0 + 1

        # unrelated to the stream: the replay speed → a new replay Job, the SparkApplication untouched
        kube().patch("ForecastPipeline", namespace, "keti", {"spec": {"dataset": {"speedup": "60"}}})
        wait_for(lambda: in_sync(namespace) and get_fp(namespace)["status"]["observedGeneration"] == 3,
                 "generation 3 applied")
        jobs = [j for j in children(namespace)["Job"] if not j["metadata"].get("deletionTimestamp")]
        assert [j["metadata"]["name"] for j in jobs] != [old_job] and len(jobs) == 1
        assert "60" in jobs[0]["spec"]["template"]["spec"]["containers"][0]["command"]
        # a label on the pipeline is not a spec change at all
        kube().patch("ForecastPipeline", namespace, "keti", {"metadata": {"labels": {"team": "ops"}}})
        time.sleep(2)
        assert spark_generation(namespace) == gen0 + 1
    assert_clean_exit(r)
    assert r.output.count(f"SparkApplication {namespace}/keti-stream replaced") == 1, r.output[-5000:]
    assert r.output.count(f"SparkApplication {namespace}/keti-stream created") == 1


def test_suspend_resume_and_restart_nonce(namespace):
    with runner(namespace) as r:
        start(namespace)
        gen0 = spark_generation(namespace)
        kube().patch("ForecastPipeline", namespace, "keti", {"spec": {"suspend": True}})
        fp = wait_for(lambda: (f := get_fp(namespace))["status"].get("phase") == "Suspended"
                      and f["status"]["observedGeneration"] == 2 and f, "phase Suspended")
        app = kube().get("SparkApplication", namespace, "keti-stream")
        job = children(namespace)["Job"][0]
        assert app["spec"]["suspend"] is True and job["spec"]["suspend"] is True
        assert condition(fp, "Ready")["reason"] == "Suspended"
        kube().patch("ForecastPipeline", namespace, "keti", {"spec": {"suspend": False}})
        wait_for(lambda: in_sync(namespace) and get_fp(namespace)["status"]["observedGeneration"] == 3, "resumed")
        assert kube().get("SparkApplication", namespace, "keti-stream")["spec"]["suspend"] is False
        assert children(namespace)["Job"][0]["metadata"]["name"] == job["metadata"]["name"]  # same Job
        assert get_fp(namespace)["status"]["phase"] == "Provisioning"

        kube().patch("ForecastPipeline", namespace, "keti", {"spec": {"restartNonce": 7}})
        fp = wait_for(lambda: in_sync(namespace) and get_fp(namespace)["status"]["observedGeneration"] == 4
                      and get_fp(namespace), "nonce applied")
        app = kube().get("SparkApplication", namespace, "keti-stream")
        assert app["metadata"]["generation"] == gen0 + 3
        assert app["spec"]["driver"]["annotations"][names().ANN_RESTART_NONCE] == "7"
        assert fp["status"]["checkpoint"]["run"] == 0
    assert_clean_exit(r)


def test_upgrade_policy_resume_refuses_and_reset_starts_a_new_checkpoint(namespace):
    with runner(namespace) as r:
        fp = start(namespace)
        gen0 = spark_generation(namespace)
        models = copy.deepcopy(fp["spec"]["models"])
        next(m for m in models if m["name"] == "ar-rls")["order"] = 6
        kube().patch("ForecastPipeline", namespace, "keti", [{"op": "replace", "path": "/spec/models",
                                                              "value": models}], content_type=kube().JSON_PATCH)
        fp = wait_for(lambda: condition(f := get_fp(namespace), "Reconciled").get("reason") == "UpgradeRefused"
                      and f, "UpgradeRefused")
        assert "ar-rls.order" in condition(fp, "Ready")["message"] and condition(fp, "Ready")["status"] == "False"
        assert fp["status"]["observedGeneration"] == 1  # the refused generation is not observed
        assert spark_generation(namespace) == gen0
        assert "order: 3" in kube().get("ConfigMap", namespace, "keti-config")["data"]["config.yaml"]
        assert any(e["reason"] == "UpgradeRefused" and e["type"] == "Warning" for e in events(namespace))

        kube().patch("ForecastPipeline", namespace, "keti", {"spec": {"upgradePolicy": "reset"}})
        fp = wait_for(lambda: in_sync(namespace) and get_fp(namespace), "reset applied")
        assert fp["status"]["checkpoint"]["run"] == 1
        app = kube().get("SparkApplication", namespace, "keti-stream")
        assert app["metadata"]["generation"] == gen0 + 1
        assert f"/{namespace}/keti/run-1" in " ".join(app["spec"]["arguments"])
        assert "order: 6" in kube().get("ConfigMap", namespace, "keti-config")["data"]["config.yaml"]
    assert_clean_exit(r)


def test_what_the_schema_cannot_catch_becomes_a_condition(namespace):
    with runner(namespace) as r:
        kube().create(kafka_cluster(namespace))
        kube().create(fp_body(namespace, sensors={"neighbours": 50}))  # keti has 45 sensors
        fp = wait_for(lambda: condition(f := get_fp(namespace), "Ready").get("reason") == "TooManyNeighbours"
                      and f, "TooManyNeighbours")
        assert fp["status"]["phase"] == "Failed" and "45 sensors" in condition(fp, "Ready")["message"]
        assert not any(children(namespace).values())
        assert any(e["reason"] == "TooManyNeighbours" and e["type"] == "Warning" for e in events(namespace))
        kube().patch("ForecastPipeline", namespace, "keti", {"spec": {"sensors": {"neighbours": 6}}})
        wait_for(lambda: in_sync(namespace), "fixed spec applied")

        # no Kafka cluster of that name yet: Pending, retried, converges once it exists
        kube().create(fp_body(namespace, name="late", kafka={"strimziCluster": "late-kafka"}))
        fp = wait_for(lambda: condition(f := get_fp(namespace, "late"), "Ready").get("reason")
                      == "KafkaClusterNotFound" and f, "KafkaClusterNotFound")
        assert fp["status"]["phase"] == "Pending"
        assert not any(children(namespace, "late").values())
        kube().create(kafka_cluster(namespace, "late-kafka"))
        wait_for(lambda: in_sync(namespace, "late"), "pipeline 'late' applied after its Kafka appeared")

        # an unreachable data set URL (a closed loopback port)
        port = kube_testenv.free_port()
        kube().create(fp_body(namespace, name="url", dataset={"url": f"http://127.0.0.1:{port}/keti.csv"}))
        fp = wait_for(lambda: condition(f := get_fp(namespace, "url"), "Ready").get("reason")
                      == "DatasetUnreachable" and f, "DatasetUnreachable")
        assert fp["status"]["phase"] == "Pending"
        assert f"127.0.0.1:{port}" in condition(fp, "Ready")["message"]
    assert_clean_exit(r)


def test_deleted_child_is_recreated_and_delete_relies_on_owner_references(namespace, control_plane):
    with runner(namespace) as r:
        fp = start(namespace)
        uid = kube().get("SparkApplication", namespace, "keti-stream")["metadata"]["uid"]
        kube().delete("SparkApplication", namespace, "keti-stream")
        wait_for(lambda: (a := kube().get("SparkApplication", namespace, "keti-stream")) and
                 a["metadata"]["uid"] != uid, "the SparkApplication recreated")
        kube().delete("ConfigMap", namespace, "keti-config")
        wait_for(lambda: kube().get("ConfigMap", namespace, "keti-config"), "the ConfigMap recreated")
        owned = [c for kind in children(namespace).values() for c in kind]
        assert len(owned) == 6
        assert all(c["metadata"]["ownerReferences"][0]["uid"] == fp["metadata"]["uid"] for c in owned)
        if not control_plane.garbage_collector:
            kcm = kube_testenv.binary_path("kube-controller-manager")
            pytest.fail(f"{kcm} is missing: {kube_testenv.INSTALL_HINT}")
        kube().delete("ForecastPipeline", namespace, "keti", propagation="Foreground")
        wait_for(lambda: get_fp(namespace) is None, "the pipeline gone (foreground deletion through the GC)")
        assert not any(children(namespace).values())  # foreground: the owner goes only after its children
    assert_clean_exit(r)


def test_operator_killed_mid_reconcile_converges_without_duplicates(namespace, control_plane):
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig), "SENSORCAST_OPERATOR_FAULT_DELAY": "30"}
    port = kube_testenv.free_port()
    cmd = [sys.executable, "-m", "sensorcast_operator.cli", "run", "-n", namespace,
           "--liveness", f"http://127.0.0.1:{port}/healthz"]
    log = open(control_plane.workdir / f"operator-{namespace}.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        kube().create(kafka_cluster(namespace))
        kube().create(fp_body(namespace))
        wait_for(lambda: kube().get("ConfigMap", namespace, "keti-config"), "the ConfigMap (before the pause)",
                 timeout=90)
        assert kube().get("SparkApplication", namespace, "keti-stream") is None
        assert proc.poll() is None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:  # kopf's liveness probe
            assert resp.status == 200
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-reconcile: topics and ConfigMap made, the rest not
        proc.wait(10)
        log.close()
    assert len(children(namespace)["KafkaTopic"]) == 3
    with runner(namespace) as r:
        fp = wait_for(lambda: in_sync(namespace), "convergence after the restart")
        live = children(namespace)
        assert {k: len(v) for k, v in live.items()} == {"KafkaTopic": 3, "ConfigMap": 1, "SparkApplication": 1,
                                                        "Job": 1}
        assert live["SparkApplication"][0]["spec"] == rendered(namespace, fp)["app"]["spec"]
    assert_clean_exit(r)
