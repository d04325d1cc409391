"""The level-triggered, idempotent reconcile of one ForecastPipeline, and its status write-back.

reconcile(): checks → KafkaTopics → (upgrade decision) → ConfigMap → SparkApplication (replaced only when its
rendered spec hash changes) → replay Job → status. refresh_status(): recompute status from the live children
(what the child-event handlers call). Both are safe to run any number of times, in any order.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import kopf
from kubernetes.client.exceptions import ApiException

from . import checks, kube, names, status, upgrade
from .hashing import stable_hash
from .manifests import Pipeline, checkpoint_uri, config_hash, config_map, kafka_topics, replay_job, spark_application

log = logging.getLogger(__name__)


def retry_delay() -> float:
    """Seconds before a pipeline that waits on the world (e.g. its Kafka cluster) is reconciled again."""
    return float(os.environ.get("SENSORCAST_RETRY_DELAY", "30"))


def _fault_delay() -> None:
    """Fault injection for the restart test: sleep between children (SENSORCAST_OPERATOR_FAULT_DELAY seconds)."""
    delay = float(os.environ.get("SENSORCAST_OPERATOR_FAULT_DELAY", "0") or 0)
    if delay > 0:
        log.warning("fault injection: sleeping %.1f s mid-reconcile", delay)
        time.sleep(delay)


def pipeline_of(fp: dict) -> Pipeline:
    md = fp["metadata"]
    return Pipeline(md["name"], md["namespace"], fp.get("spec") or {})


def _exists(namespace: str):
    def exists(kind: str, name: str) -> bool:
        return kube.get(kind, namespace, name) is not None
    return exists


def adopt(child: dict, fp: dict) -> dict:
    """Owner reference (controller, blockOwnerDeletion) + the parent's labels, via kopf.adopt."""
    kopf.adopt(child, owner=fp, nested="spec.template" if child["kind"] == "Job" else None)
    return child


@dataclass
class Result:
    verdict: status.Condition
    applied: dict | None = None
    retry: bool = False


def _ensure_topic(desired: dict, fp: dict) -> None:
    md = desired["metadata"]
    live = kube.get("KafkaTopic", md["namespace"], md["name"])
    if live is None:
        kube.create(adopt(desired, fp))
    elif {k: (live.get("spec") or {}).get(k) for k in desired["spec"]} != desired["spec"]:
        kube.patch("KafkaTopic", md["namespace"], md["name"], {"spec": desired["spec"]})


def _ensure_config_map(desired: dict, fp: dict) -> None:
    md = desired["metadata"]
    live = kube.get("ConfigMap", md["namespace"], md["name"])
    if live is None:
        kube.create(adopt(desired, fp))
    elif live.get("data") != desired["data"]:
        kube.patch("ConfigMap", md["namespace"], md["name"], {"data": desired["data"]})


def _ensure_spark_app(desired: dict, live: dict | None, fp: dict) -> str:
    """Create, or replace when the rendered spec hash differs; returns created | replaced | unchanged."""
    if live is None:
        kube.create(adopt(desired, fp))
        return "created"
    ann = live["metadata"].get("annotations") or {}
    if ann.get(names.ANN_SPEC_HASH) == desired["metadata"]["annotations"][names.ANN_SPEC_HASH]:
        return "unchanged"
    adopt(desired, fp)
    desired["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    desired["metadata"]["annotations"] = {**ann, **desired["metadata"]["annotations"]}
    kube.replace(desired)  # the status subresource is left as it is
    return "replaced"


def _ensure_job(desired: dict | None, p: Pipeline, fp: dict) -> None:
    """One replay Job, named for its template's hash: others of the pipeline are deleted, suspend patched."""
    live = kube.list_("Job", p.namespace, f"{names.PIPELINE_LABEL}={p.name},{names.COMPONENT_LABEL}=replay")
    keep = desired["metadata"]["name"] if desired else None
    for job in live:
        if job["metadata"]["name"] != keep and not job["metadata"].get("deletionTimestamp"):
            kube.delete("Job", p.namespace, job["metadata"]["name"])
    if desired is None:
        return
    current = next((j for j in live if j["metadata"]["name"] == keep), None)
    if current is None:
        kube.create(adopt(desired, fp))
    elif bool((current.get("spec") or {}).get("suspend")) != desired["spec"]["suspend"]:
        kube.patch("Job", p.namespace, keep, {"spec": {"suspend": desired["spec"]["suspend"]}})


def reconcile_children(fp: dict) -> Result:
    """Bring the children in line with the spec; the verdict says whether that happened and why not."""
    p = pipeline_of(fp)
    problem = checks.run_checks(p, _exists(p.namespace))
    if problem is not None:
        return Result(status.Condition("Reconciled", "False", problem.reason, problem.message),
                      retry=not problem.permanent)
    for topic in kafka_topics(p):
        _ensure_topic(topic, fp)
    live_app = kube.get("SparkApplication", p.namespace, names.spark_app_name(p.name))
    previous = (upgrade.Previous.from_app(live_app) if live_app is not None
                else upgrade.Previous.from_status(fp.get("status") or {}))
    decision = upgrade.decide(p, previous)
    if decision.refused:
        return Result(status.Condition(
            "Reconciled", "False", "UpgradeRefused",
            f"upgradePolicy resume cannot keep the checkpoint when {', '.join(decision.refused)} change; revert "
            "them, or set upgradePolicy: reset to start a new checkpoint (the state is relearned)"))
    _ensure_config_map(config_map(p), fp)
    _fault_delay()
    fields = upgrade.state_fields(p)
    action = _ensure_spark_app(spark_application(p, decision.run, upgrade.encode(fields)), live_app, fp)
    log.info("SparkApplication %s/%s %s", p.namespace, names.spark_app_name(p.name), action)
    _ensure_job(replay_job(p), p, fp)
    applied = {
        "observedGeneration": fp["metadata"].get("generation"),
        "lastAppliedSpecHash": stable_hash(p.spec),
        "configHash": config_hash(p),
        "stateFingerprint": upgrade.encode(fields),
        "checkpoint": {"uri": checkpoint_uri(p, decision.run), "run": decision.run},
    }
    return Result(status.Condition("Reconciled", "True", "ChildrenInSync", "children match the spec"), applied)


def reconcile(fp: dict) -> Result:
    """reconcile_children, API errors turned into a verdict, then the status written."""
    try:
        result = reconcile_children(fp)
    except ApiException as exc:
        reason = "CrdMissing" if exc.status == 404 else "ApiError"
        msg = (f"the API server has no such resource (is the CRD installed?): {exc.reason}" if exc.status == 404
               else f"API error {exc.status}: {exc.reason}")
        result = Result(status.Condition("Reconciled", "False", reason, msg), retry=True)
    write_status(fp, result.verdict, result.applied)
    return result


def observe(p: Pipeline) -> status.Observed:
    """The pipeline's children as they are now."""
    sel = f"{names.PIPELINE_LABEL}={p.name}"
    job = replay_job(p) if p.spec.get("dataset") else None
    jobs = kube.list_("Job", p.namespace, f"{sel},{names.COMPONENT_LABEL}=replay")
    current = next((j for j in jobs if job and j["metadata"]["name"] == job["metadata"]["name"]), None)
    return status.Observed(
        topics=kube.list_("KafkaTopic", p.namespace, sel) if p.kafka.get("strimziCluster") else [],
        config_map=kube.get("ConfigMap", p.namespace, names.config_map_name(p.name)),
        app=kube.get("SparkApplication", p.namespace, names.spark_app_name(p.name)),
        job=current or (jobs[-1] if jobs else None),
        strimzi=bool(p.kafka.get("strimziCluster")),
        replay=bool(p.spec.get("dataset")),
    )


def write_status(fp: dict, verdict: status.Condition | None = None, applied: dict | None = None,
                 attempts: int = 8) -> dict | None:
    """Recompute the status from live children (keeping the last verdict when none is given) and PUT it
    (optimistic concurrency on resourceVersion); post an Event for every transition. Returns the new status."""
    md = fp["metadata"]
    generation = md.get("generation")
    for _ in range(attempts):
        cur = kube.get(names.KIND, md["namespace"], md["name"])
        if cur is None or cur["metadata"].get("uid") != md.get("uid"):
            return None
        p = pipeline_of(cur)
        old = cur.get("status") or {}
        new = {k: v for k, v in old.items() if k not in ("phase", "conditions", "children")}
        new.update(status.compute(old, observe(p), bool(p.spec.get("suspend")), generation, verdict))
        if applied:
            new.update(applied)
        if new == old:
            return old
        cur["status"] = new
        try:
            kube.call("PUT", kube.path(names.KIND, md["namespace"], md["name"], "status"), cur)
        except ApiException as exc:
            if exc.status == 409:
                continue
            if exc.status == 404:
                return None
            raise
        for type_, reason, message in status.transitions(old, new):
            try:
                kube.post_event(cur, type_, reason, message)
            except ApiException as exc:  # events are best effort
                log.warning("could not post event %s: %s", reason, exc.reason)
        return new
    log.warning("status of %s/%s: gave up after %d conflicts", md["namespace"], md["name"], attempts)
    return None


def owner_pipeline(child: dict) -> dict | None:
    """The live ForecastPipeline that controls a child (None if gone, replaced or being deleted)."""
    md = child.get("metadata") or {}
    ref = next((r for r in md.get("ownerReferences") or [] if r.get("kind") == names.KIND
                and r.get("apiVersion", "").startswith(names.GROUP + "/")), None)
    if ref is None:
        return None
    fp = kube.get(names.KIND, md["namespace"], ref["name"])
    if fp is None or fp["metadata"].get("uid") != ref.get("uid") or fp["metadata"].get("deletionTimestamp"):
        return None
    return fp
