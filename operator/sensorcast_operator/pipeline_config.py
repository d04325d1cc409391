"""ForecastPipeline spec → the job's YAML config (jobs/sensorcast/config.py format), put in the pipeline ConfigMap.

Keys: dataset, format, locations, measures, models, detection, replay, spark. Parameter names follow the job
(``levelForgetting`` → ``level_forgetting``, ``minCount`` → ``min_count``); the spatial model's neighbours come
from ``spec.sensors``.
"""

from __future__ import annotations

from typing import Any

import yaml

from . import names

ALL_MODELS = ["persistence", "ema", "ar-rls", "spatial-rls", "ensemble"]
PARAM_NAMES = {"alpha": "alpha", "order": "order", "forgetting": "forgetting", "delta": "delta", "gap": "gap",
               "levelForgetting": "level_forgetting", "discount": "discount", "mode": "mode", "power": "power"}


def dataset_location(spec: dict) -> str | None:
    """What the job's --dataset / config ``dataset`` is inside the containers (None: no dataset)."""
    ds = spec.get("dataset")
    if not ds:
        return None
    if "name" in ds:
        return ds["name"]  # bundled in the image (SENSORCAST_DATA)
    if "url" in ds:
        return f"{names.DATASET_DIR}/{url_file_name(ds['url'])}"
    if "pvc" in ds:
        return f"{names.DATASET_DIR}/{ds['pvc']['path'].rstrip('/')}"
    cm = ds["configMap"]
    return f"{names.DATASET_DIR}/{cm['key']}" if cm.get("key") else names.DATASET_DIR


def url_file_name(url: str) -> str:
    """The file name a downloaded data set is stored under (last path segment, else ``dataset``)."""
    path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    tail = path.rsplit("/", 1)[-1] if path.count("/") > 2 else ""
    return tail or "dataset"


def models_config(spec: dict) -> dict[str, dict]:
    """``models`` of the job config: the listed models (default all five), spatial neighbours from sensors."""
    sensors = spec.get("sensors") or {}
    listed = spec.get("models") or [{"name": m} for m in ALL_MODELS]
    out: dict[str, dict] = {}
    for item in listed:
        params = {PARAM_NAMES[k]: v for k, v in item.items() if k in PARAM_NAMES}
        if item["name"] == "spatial-rls":
            params["neighbours"] = int(sensors.get("neighbours", 4))
            params["method"] = sensors.get("neighbourMethod", "auto")
        out[item["name"]] = params
    return out


def shard_count(spec: dict) -> int:
    """Groups of target sensors: ``spark.shards``, else one per input topic partition (the parallelism the
    source has anyway)."""
    return int((spec.get("spark") or {}).get("shards") or (spec.get("kafka") or {}).get("partitions", 3))


def build_config(spec: dict) -> dict[str, Any]:
    """The job config dict for a (defaulted) ForecastPipeline spec."""
    sensors = spec.get("sensors") or {}
    det = spec.get("detection") or {}
    cfg: dict[str, Any] = {
        "dataset": dataset_location(spec) or "keti",
        "format": (spec.get("dataset") or {}).get("format"),
        "locations": (f"{names.LOCATIONS_DIR}/{sensors['locations']['key']}" if sensors.get("locations")
                      else None),
        "measures": sorted(sensors["measures"]) if sensors.get("measures") else None,
        "models": models_config(spec),
        "detection": {
            "z": float(det.get("z", 6)),
            "min_count": int(det.get("minCount", 30)),
            "max_run": int(det.get("maxRun", 10)),
        },
        "spark": {"shards": shard_count(spec), "shuffle_partitions": shard_count(spec)},
    }
    if det.get("ranges"):
        cfg["detection"]["ranges"] = {m: [float(r["low"]), float(r["high"])] for m, r in sorted(det["ranges"].items())}
    batch = (spec.get("dataset") or {}).get("batch")
    if batch:
        cfg["replay"] = {"slice": batch}
    return cfg


def config_yaml(spec: dict) -> str:
    """The ConfigMap's config.yaml text (stable key order, so its hash is stable)."""
    return yaml.safe_dump(build_config(spec), sort_keys=True, default_flow_style=False)
