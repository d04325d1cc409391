"""Server-side apply the CustomResourceDefinitions of the given YAML files and wait until each is Established.

Run by the chart's pre-upgrade hook Job (Helm installs crds/ but never upgrades them); also usable by hand:
    python apply_crds.py crds/*.yaml            # in-cluster service account, else $KUBECONFIG
"""

from __future__ import annotations

import json
import os
import sys
import time

import kubernetes
import yaml

FIELD_MANAGER = "sensorcast-crd-upgrade"
BASE = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def client() -> kubernetes.client.ApiClient:
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
    return kubernetes.client.ApiClient()


def call(api: kubernetes.client.ApiClient, method: str, path: str, body: dict | None = None,
         query: list | None = None, content_type: str = "application/json") -> dict:
    method, url, headers, data, _ = api.param_serialize(
        method, path, query_params=query, body=body, auth_settings=["BearerToken"],
        header_params={"Accept": "application/json", "Content-Type": content_type})
    resp = api.call_api(method, url, header_params=headers, body=data, _request_timeout=60)
    raw = resp.read()
    if not 200 <= resp.status < 300:
        raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {raw[:500]!r}")
    return json.loads(raw) if raw else {}


def apply(api: kubernetes.client.ApiClient, doc: dict) -> str:
    name = doc["metadata"]["name"]
    call(api, "PATCH", f"{BASE}/{name}", doc, [("fieldManager", FIELD_MANAGER), ("force", "true")],
         content_type="application/apply-patch+yaml")
    return name


def wait_established(api: kubernetes.client.ApiClient, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        crd = call(api, "GET", f"{BASE}/{name}")
        conds = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
        if conds.get("Established") == "True" and conds.get("NamesAccepted", "True") == "True":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"CRD {name} not Established after {timeout:.0f} s: {conds}")
        time.sleep(0.5)


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    api = client()
    for path in paths:
        with open(path) as fh:
            docs = [d for d in yaml.safe_load_all(fh) if d and d.get("kind") == "CustomResourceDefinition"]
        for doc in docs:
            name = apply(api, doc)
            wait_established(api, name)
            print(f"applied {name} from {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
