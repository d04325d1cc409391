"""Status logic (pure): children as observed → their states, the conditions, the phase; and what changed.

Conditions: Reconciled (the operator's own verdict: spec accepted and children applied), TopicsReady,
ReplayComplete, StreamingRunning, Ready. Ready carries the reason of the first thing that holds it back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

CONDITION_TYPES = ("Reconciled", "TopicsReady", "ReplayComplete", "StreamingRunning", "Ready")
# Reconciled=False reasons that wait on the world (retried) rather than on a spec change.
WAITING_REASONS = {"KafkaClusterNotFound", "DatasetUnreachable", "DatasetNotFound", "LocationsNotFound",
                   "CrdMissing", "ApiError"}
SPARK_FAILED = {"FAILED", "SUBMISSION_FAILED"}
SPARK_TROUBLE = {"PENDING_RERUN", "INVALIDATING", "FAILING", "UNKNOWN"}


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def topic_ready(topic: dict) -> bool:
    conds = (topic.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def spark_state(app: dict | None) -> str | None:
    """The SparkApplication's applicationState.state (``NEW`` before spark-operator has seen it)."""
    if app is None:
        return None
    return ((app.get("status") or {}).get("applicationState") or {}).get("state") or "NEW"


def job_state(job: dict | None) -> str | None:
    """Succeeded | Failed | Suspended | Running | Pending (from the Job's conditions and counters)."""
    if job is None:
        return None
    st = job.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    if conds.get("Complete") == "True":
        return "Succeeded"
    if conds.get("Failed") == "True":
        return "Failed"
    if (job.get("spec") or {}).get("suspend"):
        return "Suspended"
    if st.get("active"):
        return "Running"
    return "Pending"


@dataclass
class Observed:
    """The children as read from the API server (None / [] when absent)."""

    topics: list[dict]
    config_map: dict | None
    app: dict | None
    job: dict | None
    strimzi: bool  # topics are managed through Strimzi KafkaTopics
    replay: bool  # the spec has a dataset, so a replay Job belongs to the pipeline


def child_conditions(obs: Observed, suspend: bool) -> list[Condition]:
    """TopicsReady, ReplayComplete, StreamingRunning from the observed children."""
    out = []
    if not obs.strimzi:
        out.append(Condition("TopicsReady", "True", "ExternalKafka", "topics are managed outside Strimzi"))
    else:
        waiting = sorted(t["metadata"]["name"] for t in obs.topics if not topic_ready(t))
        if obs.topics and not waiting:
            out.append(Condition("TopicsReady", "True", "TopicsReady", f"{len(obs.topics)} KafkaTopics ready"))
        else:
            out.append(Condition("TopicsReady", "False", "TopicsNotReady",
                                 f"waiting for KafkaTopics {', '.join(waiting)}" if waiting else "no KafkaTopics"))
    js = job_state(obs.job)
    if not obs.replay:
        out.append(Condition("ReplayComplete", "True", "NoReplay", "no dataset: nothing to replay"))
    elif js == "Succeeded":
        out.append(Condition("ReplayComplete", "True", "ReplayComplete", f"Job {obs.job['metadata']['name']}"))
    elif js == "Failed":
        out.append(Condition("ReplayComplete", "False", "ReplayFailed", f"Job {obs.job['metadata']['name']} failed"))
    else:
        out.append(Condition("ReplayComplete", "False", {"Running": "Replaying", "Suspended": "Suspended"}.get(
            js or "", "ReplayPending"), f"replay Job is {js or 'not created'}"))
    ss = spark_state(obs.app)
    if ss == "RUNNING":
        out.append(Condition("StreamingRunning", "True", "Running", "SparkApplication RUNNING"))
    elif suspend or ss in ("SUSPENDING", "SUSPENDED"):
        out.append(Condition("StreamingRunning", "False", "Suspended", f"SparkApplication {ss or 'absent'}"))
    elif ss in SPARK_FAILED:
        err = ((obs.app.get("status") or {}).get("applicationState") or {}).get("errorMessage", "")
        out.append(Condition("StreamingRunning", "False", "SparkFailed", f"SparkApplication {ss}: {err}".strip()))
    elif ss is None:
        out.append(Condition("StreamingRunning", "False", "NotCreated", "no SparkApplication yet"))
    else:
        reason = "".join(w.title() for w in ss.split("_"))
        out.append(Condition("StreamingRunning", "False", reason, f"SparkApplication {ss}"))
    return out


def ready_condition(conds: dict[str, Condition], suspend: bool) -> Condition:
    rec = conds.get("Reconciled")
    if rec is not None and rec.status != "True":
        return Condition("Ready", "False", rec.reason, rec.message)
    if suspend:
        return Condition("Ready", "False", "Suspended", "spec.suspend is true")
    for t in ("TopicsReady", "StreamingRunning"):
        if conds[t].status != "True":
            return Condition("Ready", "False", conds[t].reason, conds[t].message)
    return Condition("Ready", "True", "Running", "the stream is forecasting")


def phase(conds: dict[str, Condition], obs: Observed, suspend: bool) -> str:
    rec = conds.get("Reconciled")
    ss, js = spark_state(obs.app), job_state(obs.job)
    if rec is not None and rec.status != "True":
        if rec.reason in WAITING_REASONS:
            return "Pending"
        return "Degraded" if rec.reason == "UpgradeRefused" and ss == "RUNNING" else "Failed"
    if suspend:
        return "Suspended"
    if ss in SPARK_FAILED:
        return "Failed"
    if js == "Failed" or ss in SPARK_TROUBLE:
        return "Degraded"
    if ss == "RUNNING" and conds["TopicsReady"].status == "True":
        return "Replaying" if obs.replay and js != "Succeeded" else "Running"
    return "Provisioning"


def merge_conditions(old: list[dict], new: list[Condition], generation: int | None) -> list[dict]:
    """New condition dicts in CONDITION_TYPES order; lastTransitionTime kept while the status is unchanged."""
    before = {c["type"]: c for c in old or []}
    out = []
    for c in sorted(new, key=lambda c: CONDITION_TYPES.index(c.type)):
        prev = before.get(c.type)
        changed = prev is None or prev.get("status") != c.status
        d = {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
             "lastTransitionTime": now() if changed else prev.get("lastTransitionTime", now())}
        gen = generation if generation is not None else (prev or {}).get("observedGeneration")
        if gen is not None:
            d["observedGeneration"] = gen
        out.append(d)
    return out


def compute(old_status: dict, obs: Observed, suspend: bool, generation: int,
            verdict: Condition | None) -> dict:
    """The new ``status.conditions``, ``phase`` and ``children`` (other status keys are the caller's)."""
    conds = {c.type: c for c in child_conditions(obs, suspend)}
    if verdict is not None:
        conds["Reconciled"] = verdict
    else:
        prev = next((c for c in old_status.get("conditions") or [] if c["type"] == "Reconciled"), None)
        if prev is not None:
            conds["Reconciled"] = Condition("Reconciled", prev["status"], prev.get("reason", ""),
                                            prev.get("message", ""))
    conds["Ready"] = ready_condition(conds, suspend)
    children: dict = {
        "topics": [{"name": t["metadata"]["name"], "topicName": (t.get("spec") or {}).get("topicName", ""),
                    "ready": topic_ready(t)} for t in sorted(obs.topics, key=lambda t: t["metadata"]["name"])],
    }
    if obs.config_map is not None:
        children["configMap"] = {"name": obs.config_map["metadata"]["name"]}
    if obs.app is not None:
        err = ((obs.app.get("status") or {}).get("applicationState") or {}).get("errorMessage")
        children["sparkApplication"] = {"name": obs.app["metadata"]["name"], "state": spark_state(obs.app)}
        if err:
            children["sparkApplication"]["errorMessage"] = err
    if obs.job is not None:
        children["replayJob"] = {"name": obs.job["metadata"]["name"], "state": job_state(obs.job)}
    elif not obs.replay:
        children["replayJob"] = {"name": "", "state": "None"}
    return {
        "phase": phase(conds, obs, suspend),
        "conditions": merge_conditions(old_status.get("conditions") or [], list(conds.values()),
                                       generation if verdict is not None else None),
        "children": children,
    }


def transitions(old_status: dict, new_status: dict) -> list[tuple[str, str, str]]:
    """Events to post as (type Normal|Warning, reason, message): phase changes and condition flips."""
    out = []
    if old_status.get("phase") != new_status.get("phase"):
        warn = new_status["phase"] in ("Failed", "Degraded")
        out.append(("Warning" if warn else "Normal", f"Phase{new_status['phase']}",
                    f"phase {old_status.get('phase') or '-'} → {new_status['phase']}"))
    before = {c["type"]: c for c in old_status.get("conditions") or []}
    for c in new_status.get("conditions") or []:
        prev = before.get(c["type"])
        if prev is not None and prev.get("status") == c["status"] and prev.get("reason") == c.get("reason"):
            continue
        if c["type"] in ("Ready", "Reconciled"):
            warn = c["status"] != "True" and c["reason"] not in ("Suspended", "NotCreated", "New", "Submitted",
                                                                  "TopicsNotReady")
            out.append(("Warning" if warn else "Normal", c["reason"], f"{c['type']}={c['status']}: {c['message']}"))
    return out
