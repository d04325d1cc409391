"""Apply an OpenAPI v3 structural schema's defaults to an object, the way the API server does on read/write.

Used to render manifests offline (``sensorcast-operator render``) and in tests, from the CRD file itself, so the
defaults live in one place: the CRD.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

CRD_FILE = Path(__file__).resolve().parents[1] / "crds" / "forecastpipelines.sensorcast.dev.yaml"


def crd(path: str | Path = CRD_FILE) -> dict:
    """The ForecastPipeline CRD document."""
    return yaml.safe_load(Path(path).read_text())


def spec_schema(doc: dict | None = None) -> dict:
    """The v1alpha1 openAPIV3Schema of ``spec``."""
    doc = doc or crd()
    version = next(v for v in doc["spec"]["versions"] if v["name"] == "v1alpha1")
    return version["schema"]["openAPIV3Schema"]["properties"]["spec"]


def apply_defaults(schema: dict, value: Any) -> Any:
    """A copy of ``value`` with every missing defaulted field filled, recursively (defaults are defaulted too)."""
    value = copy.deepcopy(value)
    return _walk(schema, value)


def _walk(schema: dict, value: Any) -> Any:
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = _walk(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in props:
                    value[key] = _walk(extra, value[key])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [_walk(schema["items"], item) for item in value]
    return value


def defaulted_spec(spec: dict) -> dict:
    """``spec`` with the CRD's defaults applied."""
    return apply_defaults(spec_schema(), spec)
