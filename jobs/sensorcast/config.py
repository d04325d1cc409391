"""Pipeline configuration: defaults, YAML file, ``--set model.param=value``; validated at start.

The same YAML is what the operator puts in the pipeline's ConfigMap. Every error names the key.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .models import MODEL_NAMES

MODEL_PARAMS: dict[str, dict[str, type]] = {
    "persistence": {},
    "ema": {"alpha": float},
    "ar-rls": {"order": int, "forgetting": float, "delta": float},
    "spatial-rls": {"neighbours": int, "forgetting": float, "delta": float, "method": str, "gap": int,
                    "level_forgetting": float, "rho": float, "fast_rho": float, "fast_share": float,
                    "noise": float, "own_noise": float, "refresh": int, "transform": str,
                    "blend_discount": float},
    "ensemble": {"discount": float, "mode": str, "power": float},
}

DEFAULTS: dict[str, Any] = {
    "dataset": "keti",
    "format": None,
    "locations": None,
    "measures": None,  # None: every measure of the data set
    "models": {
        "persistence": {},
        "ema": {"alpha": 0.3},
        "ar-rls": {"order": 3, "forgetting": 0.995, "delta": 100.0},
        # level_forgetting .. transform: the neighbourhood Kalman filter that fills gaps (models/kalman.py)
        "spatial-rls": {"neighbours": 4, "forgetting": 0.995, "delta": 100.0, "method": "auto", "gap": 1,
                        "level_forgetting": 0.999, "rho": 0.99, "fast_rho": 0.8, "fast_share": 0.7,
                        "noise": 0.03, "own_noise": 0.003, "refresh": 24, "transform": "auto",
                        "blend_discount": 0.95},
        "ensemble": {"discount": 0.95, "mode": "inverse-mse", "power": 2.0},
    },
    "detection": {
        "z": 6.0,
        "min_count": 30,
        "max_run": 10,
        # Physically plausible ranges; readings outside are erroneous and never scored.
        "ranges": {
            "temperature": [-10.0, 60.0],
            "humidity": [0.0, 100.0],
            "co2": [250.0, 5000.0],  # below outdoor air (~400 ppm) minus margin: a sensor fault indoors
            "light": [0.0, 100000.0],
            "pir": [0.0, 100000.0],
            "voltage": [1.8, 3.6],
            "pm25": [0.0, 1000.0],
        },
    },
    # A unit per measure that makes regressors dimensionless (RLS prior and trace bound use it).
    "scales": {"temperature": 1.0, "humidity": 5.0, "co2": 100.0, "light": 100.0, "pir": 10.0,
               "voltage": 0.1, "pm25": 20.0},
    "replay": {"slice": "day"},
    # one shard on one machine: more shards fan each reading out to more groups (make bench, kafka-scaling);
    # in a cluster, shards = executor cores (docs/operations.md)
    "spark": {"master": "local[*]", "shards": 1, "shuffle_partitions": 1},
}

TOP_KEYS = set(DEFAULTS)
DETECTION_KEYS = {"z": float, "min_count": int, "max_run": int, "ranges": dict, "discount": float}
SECTIONS = {"models": dict, "detection": dict, "scales": dict, "replay": dict, "spark": dict}
REPLAY_KEYS = {"slice"}
SPARK_KEYS = {"master", "shards", "shuffle_partitions", "allowed_lateness"}


class ConfigError(ValueError):
    """A configuration problem; the message names the offending key."""


def _merge(base: dict, over: dict, path: str) -> dict:
    out = copy.deepcopy(base)
    for key, val in over.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], val, f"{path}{key}.")
        else:
            out[key] = val
    return out


def _coerce(value: Any, typ: type, key: str) -> Any:
    if typ is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if typ is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, typ):
        return value
    if isinstance(value, str) and typ in (int, float):
        try:
            return typ(value)
        except ValueError:
            pass
    raise ConfigError(f"{key}: expected {typ.__name__}, got {value!r}")


def parse_set(items: list[str]) -> dict:
    """``["ar-rls.order=5", "detection.z=4"]`` → nested dict (values parsed as YAML scalars)."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. ar-rls.forgetting=0.99")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if parts[0] in MODEL_NAMES:
            parts = ["models", *parts]
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def load(path: str | Path | None = None, sets: list[str] | None = None,
         models: list[str] | None = None, **overrides: Any) -> dict:
    """Defaults ← YAML file ← keyword overrides (non-None) ← ``--set`` items; then validate."""
    cfg = copy.deepcopy(DEFAULTS)
    if path:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        unknown = set(data) - TOP_KEYS
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)}; known: {sorted(TOP_KEYS)}")
        if "models" in data and isinstance(data["models"], dict):
            # a file lists the models it wants; missing parameters take defaults
            for m, p in data["models"].items():
                if p is not None and not isinstance(p, dict):
                    raise ConfigError(f"models.{m}: expected a mapping of parameters; got {p!r}")
            data["models"] = {m: _merge(DEFAULTS["models"].get(m, {}), p or {}, f"models.{m}.")
                              for m, p in data["models"].items()}
            cfg["models"] = {}
        cfg = _merge(cfg, data, "")
    cfg = _merge(cfg, {k: v for k, v in overrides.items() if v is not None}, "")
    if models:
        unknown = [m for m in models if m not in MODEL_NAMES]
        if unknown:
            raise ConfigError(f"--models: unknown {unknown}; known: {', '.join(MODEL_NAMES)}")
        cfg["models"] = {m: cfg["models"].get(m, copy.deepcopy(DEFAULTS["models"][m])) for m in models}
    if sets:
        extra = parse_set(sets)
        for m in extra.get("models", {}):
            if m in MODEL_NAMES and m not in cfg["models"]:
                raise ConfigError(f"--set models.{m}...: model {m!r} is not enabled (see --models)")
        cfg = _merge(cfg, extra, "")
    return validate(cfg)


def validate(cfg: dict) -> dict:
    """Check names and types; returns the config with numbers coerced."""
    unknown = set(cfg) - TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(TOP_KEYS)}")
    for key, typ in SECTIONS.items():
        if not isinstance(cfg[key], typ):
            raise ConfigError(f"{key}: expected a mapping of {key} settings; got {cfg[key]!r}")
    for key in ("dataset", "format", "locations"):
        if cfg[key] is not None and not isinstance(cfg[key], str):
            raise ConfigError(f"{key}: expected a string; got {cfg[key]!r}")
    for section, known in (("replay", REPLAY_KEYS), ("spark", SPARK_KEYS)):
        unknown = set(cfg[section]) - known
        if unknown:
            raise ConfigError(f"{section}.{sorted(unknown)[0]}: unknown key; known: {', '.join(sorted(known))}")
    if not cfg["models"]:
        raise ConfigError("models: enable at least one model")
    for name, params in cfg["models"].items():
        if name not in MODEL_NAMES:
            raise ConfigError(f"models.{name}: unknown model; known: {', '.join(MODEL_NAMES)}")
        params = params or {}
        if not isinstance(params, dict):
            raise ConfigError(f"models.{name}: expected a mapping of parameters; got {params!r}")
        for p, v in params.items():
            if p not in MODEL_PARAMS[name]:
                raise ConfigError(f"models.{name}.{p}: unknown parameter; known: "
                                  f"{', '.join(MODEL_PARAMS[name]) or 'none'}")
            params[p] = _coerce(v, MODEL_PARAMS[name][p], f"models.{name}.{p}")
        cfg["models"][name] = params
    if "ensemble" in cfg["models"] and len(cfg["models"]) < 2:
        raise ConfigError("models.ensemble needs at least one other model to combine")
    det = cfg["detection"]
    for p, v in det.items():
        if p not in DETECTION_KEYS:
            raise ConfigError(f"detection.{p}: unknown key; known: {', '.join(DETECTION_KEYS)}")
        det[p] = _coerce(v, DETECTION_KEYS[p], f"detection.{p}")
    for m, rng in det["ranges"].items():
        try:
            ok = isinstance(rng, list | tuple) and len(rng) == 2 and float(rng[0]) < float(rng[1])
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"detection.ranges.{m}: expected [low, high] numbers with low < high; got {rng!r}")
    for m, s in cfg["scales"].items():
        if _coerce(s, float, f"scales.{m}") <= 0:
            raise ConfigError(f"scales.{m}: must be > 0")
    if cfg["replay"].get("slice") not in ("day", "hour", "step"):
        raise ConfigError(f"replay.slice: expected day, hour or step; got {cfg['replay'].get('slice')!r}")
    for key in ("shards", "shuffle_partitions"):
        v = cfg["spark"].get(key)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"spark.{key}: expected an integer >= 1; got {v!r}")
    if cfg["measures"] is not None and not isinstance(cfg["measures"], list):
        raise ConfigError(f"measures: expected a list of names; got {cfg['measures']!r}")
    return cfg


def engine_models(cfg: dict) -> dict[str, dict]:
    """Model parameters as the engine takes them (layout-only keys removed)."""
    return {m: dict(p) for m, p in cfg["models"].items()}


def detection_params(cfg: dict) -> dict:
    return {k: v for k, v in cfg["detection"].items() if k != "ranges"}
