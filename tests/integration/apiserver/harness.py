"""Helpers of the API-server tests: hack/kube_testenv.py loaded by path, polling, and the small stand-ins for the
controllers that cannot run here (Strimzi's topic operator, spark-operator, the Job controller): they only write
the status those controllers would write."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _testenv():
    spec = importlib.util.spec_from_file_location("kube_testenv", ROOT / "hack" / "kube_testenv.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["kube_testenv"] = mod
    spec.loader.exec_module(mod)
    return mod


kube_testenv = _testenv()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0, interval: float = 0.3) -> Any:
    """Poll until ``check()`` returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except AssertionError as exc:  # checks may assert to say why they are not there yet
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


# --- stand-ins for the controllers that are not running (status writes only) ---

def kafka_cluster(namespace: str, name: str = "sensorcast") -> dict:
    """A minimal Strimzi Kafka (kafka.strimzi.io/v1) that the upstream schema accepts."""
    return {"apiVersion": "kafka.strimzi.io/v1", "kind": "Kafka", "metadata": {"name": name, "namespace": namespace},
            "spec": {"kafka": {"listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}]}}}


def mark_topics_ready(namespace: str, pipeline: str) -> int:
    """What Strimzi's topic operator writes once a topic exists in Kafka."""
    from sensorcast_operator import kube, names

    topics = kube.list_("KafkaTopic", namespace, f"{names.PIPELINE_LABEL}={pipeline}")
    for t in topics:
        kube.patch("KafkaTopic", namespace, t["metadata"]["name"], {"status": {
            "observedGeneration": t["metadata"]["generation"], "topicName": t["spec"]["topicName"],
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}]}}, sub="status")
    return len(topics)


def set_spark_state(namespace: str, name: str, state: str, error: str | None = None) -> None:
    """What spark-operator writes to a SparkApplication's status."""
    from sensorcast_operator import kube

    app_state = {"state": state, **({"errorMessage": error} if error else {})}
    driver = {"podName": f"{name}-driver"} if state not in ("", "SUBMISSION_FAILED") else {}
    kube.patch("SparkApplication", namespace, name, {"status": {
        "applicationState": app_state, "driverInfo": driver, "submissionAttempts": 1,
        "lastSubmissionAttemptTime": now()}}, sub="status")


def complete_job(namespace: str, name: str) -> None:
    """What the Job controller writes when the replay pod has succeeded."""
    from sensorcast_operator import kube

    ts = now()
    if not (kube.get("Job", namespace, name).get("status") or {}).get("startTime"):  # immutable once set
        kube.patch("Job", namespace, name, {"status": {"startTime": ts}}, sub="status")
    kube.patch("Job", namespace, name, {"status": {
        "active": 0, "succeeded": 1, "completionTime": ts, "uncountedTerminatedPods": {},
        "conditions": [{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": ts,
                        "lastProbeTime": ts},
                       {"type": "Complete", "status": "True", "lastTransitionTime": ts, "lastProbeTime": ts}]}},
        sub="status")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
