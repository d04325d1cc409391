"""Upgrade policy: which spec changes Spark can resume from its checkpoint, and which checkpoint run to use.

The stream's state (per shard: one model bank per sensor and measure) is keyed and shaped by the fields in
``state_fields``; a change of any of them cannot resume from the old checkpoint. ``resume`` refuses such a
change (the running app stays as it is); ``reset`` moves to a new checkpoint directory on any change of the
stream's config and relearns the state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import names
from .manifests import Pipeline, config_hash
from .pipeline_config import dataset_location, models_config


def state_fields(p: Pipeline) -> dict:
    """The spec facts the checkpointed state depends on (JSON-able, canonical)."""
    sensors = p.spec.get("sensors") or {}
    models = models_config(p.spec)
    return {
        "inputTopic": p.topic("input"),
        "shards": p.shards,
        "dataset": dataset_location(p.spec),
        "locations": sensors.get("locations"),
        "measures": sorted(sensors.get("measures") or []),
        "models": sorted(models),
        "ar-rls.order": models.get("ar-rls", {}).get("order"),
        "neighbours": models.get("spatial-rls", {}).get("neighbours"),
        "neighbourMethod": models.get("spatial-rls", {}).get("method"),
    }


def encode(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Previous:
    """What the stream last ran with (from the SparkApplication's annotations, else the pipeline status)."""

    fields: dict
    run: int
    config_hash: str

    @classmethod
    def from_app(cls, app: dict) -> Previous | None:
        ann = (app.get("metadata") or {}).get("annotations") or {}
        if names.ANN_FINGERPRINT not in ann:
            return None
        return cls(json.loads(ann[names.ANN_FINGERPRINT]), int(ann.get(names.ANN_CHECKPOINT_RUN, 0)),
                   ann.get(names.ANN_CONFIG_HASH, ""))

    @classmethod
    def from_status(cls, status: dict) -> Previous | None:
        if not status.get("stateFingerprint"):
            return None
        return cls(json.loads(status["stateFingerprint"]), int((status.get("checkpoint") or {}).get("run", 0)),
                   status.get("configHash", ""))


@dataclass(frozen=True)
class Decision:
    run: int
    refused: tuple[str, ...] = ()  # fields whose change the resume policy refuses


def decide(p: Pipeline, previous: Previous | None) -> Decision:
    """The checkpoint run for the desired spec, or the refused fields under ``upgradePolicy: resume``."""
    if previous is None:
        return Decision(0)
    new = state_fields(p)
    changed = tuple(k for k in sorted(set(new) | set(previous.fields)) if new.get(k) != previous.fields.get(k))
    if p.spec.get("upgradePolicy", "resume") == "reset":
        moved = bool(changed) or config_hash(p) != previous.config_hash
        return Decision(previous.run + 1 if moved else previous.run)
    if changed:
        return Decision(previous.run, refused=changed)
    return Decision(previous.run)
