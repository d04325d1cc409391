"""A small dict-in, dict-out client over the kubernetes package's ApiClient (kopf is not a client).

Every object is a plain JSON dict; kinds are looked up in RESOURCES. Loads the in-cluster config, else
$KUBECONFIG / ~/.kube/config.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import kubernetes
from kubernetes.client.exceptions import ApiException

from . import names

RESOURCES: dict[str, tuple[str, str, str]] = {  # kind → (group, version, plural)
    "ConfigMap": ("", "v1", "configmaps"),
    "PersistentVolumeClaim": ("", "v1", "persistentvolumeclaims"),
    "Event": ("", "v1", "events"),
    "Namespace": ("", "v1", "namespaces"),
    "Job": ("batch", "v1", "jobs"),
    "KafkaTopic": (names.STRIMZI_GROUP, names.STRIMZI_VERSION, names.TOPIC_PLURAL),
    "Kafka": (names.STRIMZI_GROUP, names.STRIMZI_VERSION, names.KAFKA_PLURAL),
    "SparkApplication": (names.SPARK_GROUP, names.SPARK_VERSION, names.SPARK_PLURAL),
    names.KIND: (names.GROUP, names.VERSION, names.PLURAL),
}

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

_lock = threading.Lock()
_client: kubernetes.client.ApiClient | None = None


def api_client() -> kubernetes.client.ApiClient:
    """One shared ApiClient (thread-safe enough for kopf's executor threads)."""
    global _client
    with _lock:
        if _client is None:
            try:
                kubernetes.config.load_incluster_config()
            except kubernetes.config.ConfigException:
                # read $KUBECONFIG now (the kubernetes package's default was fixed when it was imported)
                kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
            _client = kubernetes.client.ApiClient()
        return _client


def reset_client() -> None:
    """Forget the cached client (tests switching kubeconfigs)."""
    global _client
    with _lock:
        _client = None


def path(kind: str, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
    group, version, plural = RESOURCES[kind]
    out = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if namespace and kind != "Namespace":
        out += f"/namespaces/{namespace}"
    out += f"/{plural}"
    if name:
        out += f"/{name}"
    if sub:
        out += f"/{sub}"
    return out


def call(method: str, url: str, body: Any = None, query: dict | None = None,
         content_type: str = "application/json", timeout: float = 60.0) -> dict:
    """One request; returns the decoded JSON (raises ApiException on a non-2xx answer)."""
    client = api_client()
    method, full_url, headers, data, _ = client.param_serialize(
        method, url, query_params=list((query or {}).items()) or None, body=body,
        header_params={"Accept": "application/json", "Content-Type": content_type},
        auth_settings=["BearerToken"])
    resp = client.call_api(method, full_url, header_params=headers, body=data, _request_timeout=timeout)
    raw = resp.read()
    if not 200 <= resp.status < 300:
        raise ApiException(http_resp=resp)
    return json.loads(raw) if raw else {}


def get(kind: str, namespace: str, name: str) -> dict | None:
    """The object, or None if it (or its whole resource type) does not exist."""
    try:
        return call("GET", path(kind, namespace, name))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def list_(kind: str, namespace: str, selector: str | None = None) -> list[dict]:
    try:
        res = call("GET", path(kind, namespace), query={"labelSelector": selector} if selector else None)
    except ApiException as exc:
        if exc.status == 404:
            return []
        raise
    items = res.get("items") or []
    group, version, _ = RESOURCES[kind]
    for it in items:  # list items come without apiVersion/kind
        it.setdefault("apiVersion", f"{group}/{version}" if group else version)
        it.setdefault("kind", kind)
    return items


def create(obj: dict) -> dict:
    return call("POST", path(obj["kind"], obj["metadata"].get("namespace")), obj)


def replace(obj: dict) -> dict:
    md = obj["metadata"]
    return call("PUT", path(obj["kind"], md.get("namespace"), md["name"]), obj)


def patch(kind: str, namespace: str, name: str, body: Any, content_type: str = MERGE,
          sub: str | None = None) -> dict:
    return call("PATCH", path(kind, namespace, name, sub), body, content_type=content_type)


def delete(kind: str, namespace: str, name: str, propagation: str = "Background") -> None:
    try:
        call("DELETE", path(kind, namespace, name), {"propagationPolicy": propagation})
    except ApiException as exc:
        if exc.status != 404:
            raise


def post_event(owner: dict, type_: str, reason: str, message: str) -> None:
    """A core/v1 Event on the owner (what ``kubectl describe fp`` shows)."""
    from .status import now

    md = owner["metadata"]
    ts = now()
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{md['name']}.", "namespace": md["namespace"]},
        "involvedObject": {"apiVersion": owner.get("apiVersion", names.API_VERSION),
                           "kind": owner.get("kind", names.KIND), "name": md["name"],
                           "namespace": md["namespace"], "uid": md.get("uid"),
                           "resourceVersion": md.get("resourceVersion")},
        "type": type_, "reason": reason[:128], "message": message[:1024],
        "source": {"component": names.FIELD_MANAGER}, "reportingComponent": names.FIELD_MANAGER,
        "reportingInstance": names.FIELD_MANAGER, "action": "Reconcile",
        "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
    }
    create(event)
