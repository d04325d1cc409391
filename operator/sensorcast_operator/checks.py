"""Checks the CRD schema cannot make: against the data set, and against what exists in the cluster.

Each returns a Problem (condition reason + message) or None. ``permanent`` problems wait for a spec change;
the others (a missing Kafka cluster, an unreachable URL) are retried, since the world may fix them.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from .manifests import Pipeline

# Sensors and measures of the data sets bundled in the job image (checked against the real files in tests).
BUNDLED = {
    "keti": {"sensors": 45, "measures": ["co2", "humidity", "light", "pir", "temperature"]},
    "aqi36": {"sensors": 36, "measures": ["pm25"]},
    "intel-extract": {"sensors": 50, "measures": ["temperature", "humidity"]},
    "intel-raw": {"sensors": 54, "measures": ["temperature", "humidity", "light", "voltage"]},
}


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str
    permanent: bool = True


def check_dataset_fit(p: Pipeline) -> Problem | None:
    """Neighbours and measures against a bundled data set."""
    ds = p.spec.get("dataset") or {}
    known = BUNDLED.get(ds.get("name", ""))
    if not known:
        return None
    sensors = p.spec.get("sensors") or {}
    uses_spatial = any(m["name"] == "spatial-rls" for m in p.spec.get("models") or [{"name": "spatial-rls"}])
    k = int(sensors.get("neighbours", 4))
    if uses_spatial and k >= known["sensors"]:
        return Problem("TooManyNeighbours",
                       f"sensors.neighbours is {k}, but data set {ds['name']} has {known['sensors']} sensors "
                       f"(at most {known['sensors'] - 1} neighbours)")
    missing = sorted(set(sensors.get("measures") or []) - set(known["measures"]))
    if missing:
        return Problem("UnknownMeasure", f"sensors.measures {missing} are not in data set {ds['name']} "
                                         f"(it has {', '.join(known['measures'])})")
    return None


def check_url(url: str, timeout: float = 5.0) -> Problem | None:
    """The data set URL answers (HEAD, else a one-byte GET) with a non-error status."""
    last = ""
    for method, headers in (("HEAD", {}), ("GET", {"Range": "bytes=0-0"})):
        req = urllib.request.Request(url, method=method, headers={"User-Agent": "sensorcast-operator", **headers})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                if resp.status < 400:
                    return None
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code not in (405, 501):
                break
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
            break
    return Problem("DatasetUnreachable", f"dataset.url {url} is not reachable: {last}", permanent=False)


def check_cluster(p: Pipeline, exists: Callable[[str, str], bool]) -> Problem | None:
    """The Strimzi Kafka cluster and the ConfigMaps/PVC the spec names exist. ``exists(kind, name)``."""
    cluster = p.kafka.get("strimziCluster")
    if cluster and not exists("Kafka", cluster):
        return Problem("KafkaClusterNotFound", f"kafka.strimziCluster {cluster!r}: no Kafka (kafka.strimzi.io) "
                                               f"of that name in namespace {p.namespace}", permanent=False)
    ds = p.spec.get("dataset") or {}
    if "configMap" in ds and not exists("ConfigMap", ds["configMap"]["name"]):
        return Problem("DatasetNotFound", f"dataset.configMap {ds['configMap']['name']!r} does not exist",
                       permanent=False)
    if "pvc" in ds and not exists("PersistentVolumeClaim", ds["pvc"]["claimName"]):
        return Problem("DatasetNotFound", f"dataset.pvc {ds['pvc']['claimName']!r} does not exist", permanent=False)
    loc = (p.spec.get("sensors") or {}).get("locations")
    if loc and not exists("ConfigMap", loc["configMap"]):
        return Problem("LocationsNotFound", f"sensors.locations.configMap {loc['configMap']!r} does not exist",
                       permanent=False)
    return None


def run_checks(p: Pipeline, exists: Callable[[str, str], bool]) -> Problem | None:
    """All checks, cheapest first; the first problem found."""
    problem = check_dataset_fit(p) or check_cluster(p, exists)
    if problem is None and "url" in (p.spec.get("dataset") or {}):
        problem = check_url(p.spec["dataset"]["url"])
    return problem
