"""Pure builders: a ForecastPipeline (name, namespace, defaulted spec) → its child manifests.

KafkaTopic (kafka.strimzi.io/v1) ×2-3, ConfigMap with the job config, SparkApplication
(sparkoperator.k8s.io/v1beta2, type Python, running ``sensorcast stream``), Job running ``sensorcast replay``.
No owner references here (the reconciler adopts them); every hash is of rendered content only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import names
from .hashing import stable_hash
from .pipeline_config import config_yaml, dataset_location, shard_count, url_file_name

TOPIC_ROLES = ("input", "output", "dead-letter")


def _plain(obj: dict) -> dict:
    """A copy with no shared sub-objects (so adopting or patching one part never changes another)."""
    return json.loads(json.dumps(obj))


@dataclass(frozen=True)
class Pipeline:
    """What the builders need to know about one ForecastPipeline."""

    name: str
    namespace: str
    spec: dict

    @property
    def kafka(self) -> dict:
        return self.spec["kafka"]

    def topic(self, role: str) -> str:
        """The Kafka topic name for a role; default ``<pipeline>-readings|forecasts|dead-letter``."""
        key = {"input": "input", "output": "output", "dead-letter": "deadLetter"}[role]
        default = {"input": "readings", "output": "forecasts", "dead-letter": "dead-letter"}[role]
        return (self.kafka.get("topics") or {}).get(key) or f"{self.name}-{default}"

    @property
    def shards(self) -> int:
        return shard_count(self.spec)

    @property
    def bootstrap_servers(self) -> str:
        if self.kafka.get("bootstrapServers"):
            return self.kafka["bootstrapServers"]
        return f"{self.kafka['strimziCluster']}-kafka-bootstrap.{self.namespace}.svc:9092"

    @property
    def kafka_sink(self) -> bool:
        return bool(((self.spec.get("sinks") or {}).get("kafka") or {}).get("enabled", True))

    def topic_roles(self) -> list[str]:
        """Roles whose topics the pipeline uses (no output topic when the Kafka sink is off)."""
        return [r for r in TOPIC_ROLES if r != "output" or self.kafka_sink]


def kafka_topics(p: Pipeline) -> list[dict]:
    """KafkaTopics for a Strimzi-managed cluster (none when only bootstrapServers is given)."""
    cluster = p.kafka.get("strimziCluster")
    if not cluster:
        return []
    retention_ms = int(p.kafka.get("retentionHours", 168)) * 3_600_000
    out = []
    for role in p.topic_roles():
        out.append({
            "apiVersion": f"{names.STRIMZI_GROUP}/{names.STRIMZI_VERSION}",
            "kind": "KafkaTopic",
            "metadata": {"name": names.topic_name(p.name, role), "namespace": p.namespace,
                         "labels": {**names.labels(p.name, "topic"), "strimzi.io/cluster": cluster}},
            "spec": {
                "topicName": p.topic(role),
                "partitions": int(p.kafka.get("partitions", 3)),
                "replicas": int(p.kafka.get("replicas", 1)),
                "config": {"retention.ms": retention_ms, "cleanup.policy": "delete"},
            },
        })
    return out


def config_map(p: Pipeline) -> dict:
    """The pipeline ConfigMap: ``config.yaml`` is the job's config (mounted at /etc/sensorcast)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": names.config_map_name(p.name), "namespace": p.namespace,
                     "labels": names.labels(p.name, "config")},
        "data": {"config.yaml": config_yaml(p.spec)},
    }


def config_hash(p: Pipeline) -> str:
    return stable_hash(config_map(p)["data"])


def _data_volumes(p: Pipeline) -> tuple[list[dict], list[dict], list[dict]]:
    """(volumes, mounts, init containers) that put the data set and locations where the config says."""
    volumes = [{"name": "config", "configMap": {"name": names.config_map_name(p.name)}}]
    mounts = [{"name": "config", "mountPath": names.CONFIG_DIR, "readOnly": True}]
    init: list[dict] = []
    ds = p.spec.get("dataset") or {}
    if "pvc" in ds:
        volumes.append({"name": "dataset", "persistentVolumeClaim": {"claimName": ds["pvc"]["claimName"],
                                                                     "readOnly": True}})
        mounts.append({"name": "dataset", "mountPath": names.DATASET_DIR, "readOnly": True})
    elif "configMap" in ds:
        volumes.append({"name": "dataset", "configMap": {"name": ds["configMap"]["name"]}})
        mounts.append({"name": "dataset", "mountPath": names.DATASET_DIR, "readOnly": True})
    elif "url" in ds:
        volumes.append({"name": "dataset", "emptyDir": {}})
        mounts.append({"name": "dataset", "mountPath": names.DATASET_DIR})
        target = f"{names.DATASET_DIR}/{url_file_name(ds['url'])}"
        init.append({
            "name": "fetch-dataset",
            "image": p.spec["spark"]["image"],
            "imagePullPolicy": p.spec["spark"].get("imagePullPolicy", "IfNotPresent"),
            "command": ["python3", "-c",
                        "import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])",
                        ds["url"], target],
            "volumeMounts": [{"name": "dataset", "mountPath": names.DATASET_DIR}],
            "securityContext": CONTAINER_SECURITY,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        })
    loc = (p.spec.get("sensors") or {}).get("locations")
    if loc:
        volumes.append({"name": "locations", "configMap": {"name": loc["configMap"]}})
        mounts.append({"name": "locations", "mountPath": names.LOCATIONS_DIR, "readOnly": True})
    return volumes, mounts, init


# Restricted Pod Security for every pod the operator makes: the job image's user (apache/spark's uid 185,
# "spark"), no privilege escalation, no capabilities, the runtime's default seccomp profile.
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 185, "runAsGroup": 185, "fsGroup": 185,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                      "seccompProfile": {"type": "RuntimeDefault"}}


def checkpoint_uri(p: Pipeline, run: int) -> str:
    """``<base>/<namespace>/<name>/run-<n>``: a reset moves to the next run, a resume keeps it."""
    return f"{p.spec['spark']['checkpoint'].rstrip('/')}/{p.namespace}/{p.name}/run-{run}"


def stream_arguments(p: Pipeline, checkpoint: str) -> list[str]:
    """``sensorcast stream`` flags (issue 3's contract) for the SparkApplication's arguments."""
    args = ["stream", "--bootstrap-servers", p.bootstrap_servers, "--input-topic", p.topic("input")]
    if p.kafka_sink:
        args += ["--output-topic", p.topic("output")]
    args += ["--dead-letter-topic", p.topic("dead-letter"), "--checkpoint", checkpoint,
             "--trigger", p.spec["spark"]["trigger"], "--config", names.CONFIG_FILE]
    sinks = p.spec.get("sinks") or {}
    if sinks.get("opentsdb"):
        args += ["--opentsdb", sinks["opentsdb"]["url"]]
    if sinks.get("parquet"):
        args += ["--parquet", sinks["parquet"]["uri"]]
    return args


def spark_application(p: Pipeline, checkpoint_run: int, state_fingerprint: str) -> dict:
    """The stream's SparkApplication; ANN_SPEC_HASH hashes its spec, so a patch happens only on a real change.

    The config hash and restart nonce sit in the driver's pod annotations: that is part of the spec, so a
    config edit or a new nonce makes spark-operator resubmit (a mounted ConfigMap edit alone would not).
    """
    s = p.spec["spark"]
    checkpoint = checkpoint_uri(p, checkpoint_run)
    volumes, mounts, init = _data_volumes(p)
    chash = config_hash(p)
    pod_labels = names.labels(p.name, "stream")
    driver = {
        "cores": int(s["driver"]["cores"]), "memory": s["driver"]["memory"],
        "serviceAccount": s["serviceAccount"], "labels": dict(pod_labels),
        "annotations": {names.ANN_CONFIG_HASH: chash,
                        names.ANN_RESTART_NONCE: str(p.spec.get("restartNonce", 0))},
        "env": [{"name": "SENSORCAST_PIPELINE", "value": p.name}], "volumeMounts": mounts,
        "coreLimit": str(s["driver"]["cores"]), "podSecurityContext": POD_SECURITY,
        "securityContext": CONTAINER_SECURITY,
    }
    if init:
        driver["initContainers"] = init
    executor = {
        "cores": int(s["executor"]["cores"]), "memory": s["executor"]["memory"],
        "instances": int(s["executor"]["instances"]), "labels": dict(pod_labels),
        "env": [{"name": "SENSORCAST_PIPELINE", "value": p.name}], "volumeMounts": mounts,
        "coreLimit": str(s["executor"]["cores"]), "podSecurityContext": POD_SECURITY,
        "securityContext": CONTAINER_SECURITY,
    }
    restart = s.get("restart") or {}
    spec = {
        "type": "Python",
        "pythonVersion": "3",
        "mode": "cluster",
        "image": s["image"],
        "imagePullPolicy": s["imagePullPolicy"],
        "mainApplicationFile": s["mainApplicationFile"],
        "arguments": stream_arguments(p, checkpoint),
        "sparkVersion": s["sparkVersion"],
        "sparkConf": {
            "spark.sql.shuffle.partitions": str(p.shards),
            "spark.sql.streaming.stopGracefullyOnShutdown": "true",
            **(s.get("sparkConf") or {}),
        },
        "restartPolicy": {
            "type": "OnFailure",
            "onFailureRetries": int(restart.get("onFailureRetries", 10)),
            "onFailureRetryInterval": int(restart.get("onFailureRetryInterval", 10)),
            "onSubmissionFailureRetries": int(restart.get("onSubmissionFailureRetries", 5)),
            "onSubmissionFailureRetryInterval": int(restart.get("onSubmissionFailureRetryInterval", 20)),
        },
        "suspend": bool(p.spec.get("suspend", False)),
        "volumes": volumes,
        "driver": driver,
        "executor": executor,
    }
    if s.get("hadoopConfigMap"):
        spec["hadoopConfigMap"] = s["hadoopConfigMap"]
    return _plain({
        "apiVersion": f"{names.SPARK_GROUP}/{names.SPARK_VERSION}",
        "kind": "SparkApplication",
        "metadata": {
            "name": names.spark_app_name(p.name), "namespace": p.namespace,
            "labels": names.labels(p.name, "stream"),
            "annotations": {names.ANN_SPEC_HASH: stable_hash(spec), names.ANN_CONFIG_HASH: chash,
                            names.ANN_FINGERPRINT: state_fingerprint,
                            names.ANN_CHECKPOINT_RUN: str(checkpoint_run)},
        },
        "spec": spec,
    })


def replay_arguments(p: Pipeline) -> list[str]:
    """``sensorcast replay`` flags (issue 3's contract)."""
    ds = p.spec["dataset"]
    args = ["sensorcast", "replay", "--bootstrap-servers", p.bootstrap_servers, "--topic", p.topic("input"),
            "--dead-letter-topic", p.topic("dead-letter"), "--dataset", dataset_location(p.spec),
            "--config", names.CONFIG_FILE]
    if ds.get("format"):
        args += ["--format", ds["format"]]
    if ds.get("batch"):
        args += ["--batch", ds["batch"]]
    else:
        args += ["--speedup", ds.get("speedup", "max")]
    for key in ("start", "end"):
        if ds.get(key):
            args += [f"--{key}", ds[key]]
    return args


def replay_job(p: Pipeline) -> dict | None:
    """The replay Job (None without a dataset). Its name carries the hash of its template (Jobs are immutable);
    ``suspend`` is left out of that hash, since a Job's suspend can be patched in place."""
    if not p.spec.get("dataset"):
        return None
    volumes, mounts, init = _data_volumes(p)
    pod_labels = names.labels(p.name, "replay")
    template = {
        "metadata": {"labels": pod_labels},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": POD_SECURITY,
            "initContainers": init,
            "containers": [{
                "name": "replay",
                "image": p.spec["spark"]["image"],
                "imagePullPolicy": p.spec["spark"]["imagePullPolicy"],
                "command": replay_arguments(p),
                "env": [{"name": "SENSORCAST_PIPELINE", "value": p.name}],
                "volumeMounts": mounts,
                "securityContext": CONTAINER_SECURITY,
                "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            }],
            "volumes": volumes,
        },
    }
    if not init:
        del template["spec"]["initContainers"]
    body = {"backoffLimit": 6, "template": template}
    jhash = stable_hash(body)
    return _plain({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": names.replay_job_name(p.name, jhash), "namespace": p.namespace,
                     "labels": names.labels(p.name, "replay"),
                     "annotations": {names.ANN_SPEC_HASH: jhash}},
        "spec": {**body, "suspend": bool(p.spec.get("suspend", False))},
    })
