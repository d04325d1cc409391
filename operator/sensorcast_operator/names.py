"""API coordinates, label/annotation keys and the deterministic names of a pipeline's children."""

from __future__ import annotations

GROUP = "sensorcast.dev"
VERSION = "v1alpha1"
PLURAL = "forecastpipelines"
KIND = "ForecastPipeline"
API_VERSION = f"{GROUP}/{VERSION}"

SPARK_GROUP, SPARK_VERSION, SPARK_PLURAL = "sparkoperator.k8s.io", "v1beta2", "sparkapplications"
STRIMZI_GROUP, STRIMZI_VERSION = "kafka.strimzi.io", "v1"
TOPIC_PLURAL, KAFKA_PLURAL = "kafkatopics", "kafkas"

PIPELINE_LABEL = f"{GROUP}/pipeline"
COMPONENT_LABEL = "app.kubernetes.io/component"
ANN_SPEC_HASH = f"{GROUP}/spec-hash"
ANN_CONFIG_HASH = f"{GROUP}/config-hash"
ANN_FINGERPRINT = f"{GROUP}/state-fingerprint"
ANN_CHECKPOINT_RUN = f"{GROUP}/checkpoint-run"
ANN_RESTART_NONCE = f"{GROUP}/restart-nonce"
FINALIZER = f"{GROUP}/finalizer"
FIELD_MANAGER = "sensorcast-operator"

CONFIG_DIR = "/etc/sensorcast"
CONFIG_FILE = f"{CONFIG_DIR}/config.yaml"
DATASET_DIR = "/data/dataset"
LOCATIONS_DIR = "/etc/sensorcast-locations"


def labels(pipeline: str, component: str) -> dict[str, str]:
    """Labels every child carries; PIPELINE_LABEL is what the child watchers select on."""
    return {
        "app.kubernetes.io/name": "sensorcast",
        "app.kubernetes.io/instance": pipeline,
        "app.kubernetes.io/managed-by": "sensorcast-operator",
        COMPONENT_LABEL: component,
        PIPELINE_LABEL: pipeline,
    }


def topic_name(pipeline: str, role: str) -> str:
    """KafkaTopic object name for role input | output | dead-letter."""
    return f"{pipeline}-{role}"


def config_map_name(pipeline: str) -> str:
    return f"{pipeline}-config"


def spark_app_name(pipeline: str) -> str:
    return f"{pipeline}-stream"


def replay_job_name(pipeline: str, spec_hash: str) -> str:
    """Job specs are immutable: a changed replay gets a new (still deterministic) name."""
    return f"{pipeline}-replay-{spec_hash[:8]}"
