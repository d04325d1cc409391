"""Unit tests on the rendered umbrella (every values profile): labels and selectors, restricted Pod Security
Standard, resources, pinned images, no default passwords, least-privilege RBAC, and the settings each component
needs (OpenTSDB's sink settings, HDFS's registration check, Grafana's provisioning)."""

from __future__ import annotations

import base64
import re

import pytest
import yaml

from tests.charts import helmtool

STANDARD_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by",
                   "helm.sh/chart")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
DEFAULT_PASSWORDS = {"", "admin", "password", "changeme", "secret", "grafana", "sensorcast"}


def objects(all_rendered, *kinds: str):
    """(profile, object) for every rendered object of these kinds (all kinds if none), every profile."""
    for profile, objs in all_rendered.items():
        for obj in objs:
            if not kinds or obj["kind"] in kinds:
                yield profile, obj


def ident(profile: str, obj: dict) -> str:
    return f"[{profile}] {obj['kind']}/{obj['metadata']['name']}"


def test_every_object_carries_the_standard_labels(all_rendered):
    for profile, obj in objects(all_rendered):
        if obj["kind"] == "CustomResourceDefinition":
            continue
        labels = obj["metadata"].get("labels") or {}
        missing = [k for k in STANDARD_LABELS if k not in labels]
        assert not missing, f"{ident(profile, obj)} lacks {missing}"
        assert labels.get("app.kubernetes.io/part-of") == "sensorcast", ident(profile, obj)


def test_workload_selectors_match_their_pod_labels(all_rendered):
    for profile, obj in objects(all_rendered, "Deployment", "StatefulSet"):
        selector = obj["spec"]["selector"]["matchLabels"]
        labels = obj["spec"]["template"]["metadata"]["labels"]
        assert selector and selector.items() <= labels.items(), ident(profile, obj)


def test_each_service_selects_exactly_one_workload(all_rendered):
    for profile, objs in all_rendered.items():
        pods = [(o, o["spec"]["template"]["metadata"]["labels"]) for o in objs
                if o["kind"] in ("Deployment", "StatefulSet")]
        for svc in (o for o in objs if o["kind"] == "Service"):
            sel = svc["spec"]["selector"]
            hits = [o["metadata"]["name"] for o, labels in pods if sel.items() <= labels.items()]
            assert len(hits) == 1, f"{ident(profile, svc)} selects {hits}"
            workload = next(o for o, _ in pods if o["metadata"]["name"] == hits[0])
            ports = {p["name"] for c in helmtool.containers(helmtool.pod_spec(workload)) for p in c.get("ports", [])}
            for port in svc["spec"]["ports"]:
                assert port["targetPort"] in ports, f"{ident(profile, svc)}: no container port {port['targetPort']}"


def test_statefulsets_use_their_headless_service(all_rendered):
    for profile, objs in all_rendered.items():
        headless = {o["metadata"]["name"] for o in objs
                    if o["kind"] == "Service" and o["spec"].get("clusterIP") == "None"}
        for sts in (o for o in objs if o["kind"] == "StatefulSet"):
            assert sts["spec"]["serviceName"] in headless, ident(profile, sts)


def pod_specs(all_rendered):
    for profile, obj in objects(all_rendered):
        spec = helmtool.pod_spec(obj)
        if spec is not None:
            yield profile, obj, spec


def test_pods_meet_the_restricted_pod_security_standard(all_rendered):
    for profile, obj, spec in pod_specs(all_rendered):
        where = ident(profile, obj)
        psc = spec.get("securityContext") or {}
        assert psc.get("runAsNonRoot") is True, where
        assert not any(spec.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), where
        assert not any("hostPath" in v for v in spec.get("volumes") or []), where
        for c in helmtool.containers(spec):
            sc = c.get("securityContext") or {}
            at = f"{where} container {c['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, at
            assert sc.get("privileged") is not True, at
            assert "ALL" in (sc.get("capabilities") or {}).get("drop", []), at
            assert not (sc.get("capabilities") or {}).get("add"), at
            assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, at
            assert sc.get("runAsUser", psc.get("runAsUser")) not in (0, None), at
            seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
            assert seccomp in ("RuntimeDefault", "Localhost"), at
            assert sc.get("readOnlyRootFilesystem") is True, at


def test_every_container_has_requests_and_limits(all_rendered):
    for profile, obj, spec in pod_specs(all_rendered):
        for c in helmtool.containers(spec):
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(res.get(part) or {}), f"{ident(profile, obj)} {c['name']}: {part}"


def test_images_are_pinned(all_rendered):
    for profile, obj, spec in pod_specs(all_rendered):
        for c in helmtool.containers(spec):
            name, _, tag = c["image"].rpartition(":")
            assert name and tag and tag != "latest" and "/" not in tag, f"{ident(profile, obj)}: {c['image']}"


def test_only_api_clients_mount_a_service_account_token(all_rendered):
    clients = {"sensorcast-operator", "sensorcast-operator-crd-upgrade"}
    for profile, obj, spec in pod_specs(all_rendered):
        if spec.get("automountServiceAccountToken") is not False:
            assert obj["metadata"]["name"] in clients, f"{ident(profile, obj)} mounts an API token"


def grafana_secret(objs: list[dict]) -> dict | None:
    return next((o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"] == "grafana-admin"), None)


def test_grafana_admin_password_is_generated_never_a_default(render, umbrella):
    secret = grafana_secret(render("default"))
    password = base64.b64decode(secret["data"]["admin-password"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)
    again = grafana_secret(helmtool.template(umbrella))
    assert base64.b64decode(again["data"]["admin-password"]).decode() != password, "the password is not random"


def test_no_literal_credentials_anywhere(all_rendered):
    for profile, obj, spec in pod_specs(all_rendered):
        for c in helmtool.containers(spec):
            for env in c.get("env") or []:
                if re.search("PASSWORD|SECRET|TOKEN", env["name"]):
                    # a reference to a Secret, or the path of a mounted Secret file (Grafana's __FILE variables)
                    ok = "valueFrom" in env or (env["name"].endswith("__FILE") and env["value"].startswith("/"))
                    assert ok, f"{ident(profile, obj)}: {env['name']} holds a literal"
    for profile, secret in objects(all_rendered, "Secret"):
        values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        values.update(secret.get("stringData") or {})
        for key, value in values.items():
            if "user" not in key:
                assert value.lower() not in DEFAULT_PASSWORDS, f"{ident(profile, secret)}: {key} is a default"


def test_existing_grafana_secret_is_used_and_none_generated(render):
    objs = render("production")
    assert grafana_secret(objs) is None
    grafana = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana")
    spec = grafana["spec"]["template"]["spec"]
    assert {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v} == {"grafana-admin"}
    env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/etc/grafana-admin/admin-password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env, "the password must not be an environment variable"


# --- RBAC ---

def rules(all_rendered, kinds=("Role", "ClusterRole")):
    for profile, obj in objects(all_rendered, *kinds):
        for rule in obj.get("rules") or []:
            yield profile, obj, rule


def test_rbac_has_no_wildcards_or_dangerous_verbs(all_rendered):
    for profile, obj, rule in rules(all_rendered):
        where = f"{ident(profile, obj)} {rule}"
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule.get(key, []), where
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), where
        assert "secrets" not in rule["resources"], where
        assert not {"pods/exec", "pods/attach", "nodes", "serviceaccounts/token"} & set(rule["resources"]), where


def operator_rules(objs: list[dict]) -> dict[tuple[str, str], set[str]]:
    """(apiGroup, resource) -> verbs of the operator's (Cluster)Role."""
    role = next(o for o in objs
                if o["kind"] in ("Role", "ClusterRole") and o["metadata"]["name"] == "sensorcast-operator")
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                out.setdefault((group, res), set()).update(rule["verbs"])
    return out


# What sensorcast_operator does (kopf watches + reconcile.py); a change here must be a deliberate one.
OPERATOR_VERBS = {
    ("sensorcast.dev", "forecastpipelines"): {"get", "list", "watch", "patch"},
    ("sensorcast.dev", "forecastpipelines/status"): {"get", "update", "patch"},
    ("sensorcast.dev", "forecastpipelines/finalizers"): {"update"},
    ("kafka.strimzi.io", "kafkatopics"): {"get", "list", "watch", "create", "patch"},
    ("kafka.strimzi.io", "kafkas"): {"get"},
    ("sparkoperator.k8s.io", "sparkapplications"): {"get", "list", "watch", "create", "update"},
    ("batch", "jobs"): {"list", "watch", "create", "patch", "delete"},
    ("", "configmaps"): {"get", "list", "watch", "create", "patch"},
    ("", "persistentvolumeclaims"): {"get"},
    ("", "events"): {"create"},
}


@pytest.mark.parametrize("profile", ["default", "production"])
def test_operator_rbac_is_exactly_what_it_uses(render, profile):
    assert operator_rules(render(profile)) == OPERATOR_VERBS


def test_operator_rbac_covers_every_kind_the_operator_calls():
    from sensorcast_operator import kube

    granted = {res for _, res in OPERATOR_VERBS}
    used = {plural for kind, (_, _, plural) in kube.RESOURCES.items() if kind != "Namespace"}  # Namespace: tests only
    assert used <= granted, f"the operator calls {used - granted} without RBAC"


def test_operator_is_namespaced_unless_cluster_wide(all_rendered):
    for profile, objs in all_rendered.items():
        cluster_roles = {o["metadata"]["name"] for o in objs if o["kind"] == "ClusterRole"}
        expected = set()
        if profile == "production":  # clusterWide + the CRD upgrade hook
            expected = {"sensorcast-operator", "sensorcast-operator-crd-upgrade"}
        assert cluster_roles == expected, profile


def test_watched_namespaces_get_role_binding_and_spark_account(render):
    objs = render("namespaces")
    for kind in ("Role", "RoleBinding"):
        assert {o["metadata"]["namespace"] for o in objs if o["kind"] == kind
                and o["metadata"]["name"] == "sensorcast-operator"} == {"sensorcast", "team-a"}
    assert {o["metadata"]["namespace"] for o in objs if o["kind"] == "ServiceAccount"
            and o["metadata"]["name"] == "spark-operator-spark"} == {"sensorcast", "team-a"}


def test_crd_upgrade_hook_applies_only_the_chart_crd(render):
    objs = render("production")
    job = next(o for o in objs if o["kind"] == "Job" and o["metadata"]["name"].endswith("crd-upgrade"))
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-upgrade"
    role = next(o for o in objs if o["kind"] == "ClusterRole" and o["metadata"]["name"].endswith("crd-upgrade"))
    assert role["rules"] == [{"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                              "resourceNames": ["forecastpipelines.sensorcast.dev"], "verbs": ["get", "patch"]}]
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("crd-upgrade"))
    shipped = (helmtool.ROOT / "operator" / "crds" / "forecastpipelines.sensorcast.dev.yaml").read_text()
    assert yaml.safe_load(cm["data"]["forecastpipelines.sensorcast.dev.yaml"]) == yaml.safe_load(shipped)
    assert all("crd-upgrade" not in o["metadata"]["name"] for o in render("default"))


# --- what the components need ---

def config_map(objs: list[dict], name: str) -> dict:
    return next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name)["data"]


def conf_entries(text: str) -> dict[str, str]:
    return dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)


def test_opentsdb_has_the_sink_settings_and_creates_tables_first(render):
    objs = render("default")
    conf = conf_entries(config_map(objs, "opentsdb")["opentsdb.conf"])
    assert conf["tsd.core.auto_create_metrics"] == "true"
    assert conf["tsd.storage.fix_duplicates"] == "true"
    assert conf["tsd.core.meta.enable_realtime_ts"] == conf["tsd.core.meta.enable_tsuid_tracking"] == "true"
    assert conf["tsd.http.request.enable_chunked"] == "true"
    assert int(conf["tsd.http.request.max_chunk"]) >= 1 << 20
    sts = next(o for o in objs if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "opentsdb")
    spec = sts["spec"]["template"]["spec"]
    assert [(c["name"], c.get("restartPolicy")) for c in spec["initContainers"]] == [
        ("hbase", "Always"), ("create-tables", None)], "HBase (sidecar) must run, then the tables be created"
    assert [c["args"] for c in spec["containers"]] == [["tsd"]]
    assert "file:///data/hbase" in config_map(objs, "opentsdb")["hbase-site.xml"]


def test_hbase_root_dir_on_hdfs(render):
    objs = render("hbase-on-hdfs")
    assert "hdfs://hdfs-namenode:8020/hbase" in config_map(objs, "opentsdb")["hbase-site.xml"]
    init = next(o for o in objs if o["kind"] == "Job" and o["metadata"]["name"] == "hdfs-init-dirs")
    assert "/hbase" in init["spec"]["template"]["spec"]["containers"][0]["args"][0]


def xml_props(text: str) -> dict[str, str]:
    return dict(re.findall(r"<name>([^<]+)</name><value>([^<]*)</value>", text))


def test_hdfs_config_for_pods_and_spark(render):
    data = config_map(render("default"), "hdfs-config")
    hdfs = xml_props(data["hdfs-site.xml"])
    assert hdfs["dfs.namenode.datanode.registration.ip-hostname-check"] == "false"
    assert xml_props(data["core-site.xml"])["fs.defaultFS"] == "hdfs://hdfs-namenode.sensorcast.svc:8020"
    init = next(o for o in render("default") if o["kind"] == "Job" and o["metadata"]["name"] == "hdfs-init-dirs")
    script = init["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert 'hdfs dfs -chown "spark" "/sensorcast/checkpoints"' in script  # Spark's uid 185 is user "spark"


def test_grafana_provisions_the_chart_files(render):
    objs = render("default")
    files = sorted(p.name for p in (helmtool.CHARTS / "grafana" / "dashboards").glob("*.json"))
    assert files, "charts/grafana/dashboards/*.json is empty"
    assert sorted(config_map(objs, "grafana-dashboards")) == files
    sources = [yaml.safe_load(t) for t in config_map(objs, "grafana-datasources").values()]
    uids = {d["uid"] for s in sources for d in s["datasources"]}
    tsdb = [d for s in sources for d in s["datasources"] if d["type"] == "opentsdb"]
    assert tsdb and all(d["jsonData"]["tsdbVersion"] in (3, 4) and d["jsonData"].get("tsdbResolution") for d in tsdb)
    for name in files:
        used = set(re.findall(r'"uid":\s*"([^"]+)"', config_map(objs, "grafana-dashboards")[name]))
        refs = {u for u in used if u.startswith("sensorcast-opentsdb") or u in uids}
        assert refs <= uids, f"{name} uses data sources {refs - uids}"
    grafana = next(o for o in objs if o["kind"] == "Deployment" and o["metadata"]["name"] == "grafana")
    env = {e["name"]: e.get("value") for e in grafana["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SENSORCAST_OPENTSDB_URL"] == "http://opentsdb:4242"


@pytest.mark.parametrize("profile", helmtool.PROFILE_NAMES)
def test_every_enabled_component_has_a_helm_test(render, profile):
    objs = render(profile)
    tests = {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in objs
             if o["kind"] == "Pod" and (o["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"}
    charts = {o["metadata"]["labels"]["app.kubernetes.io/name"] for o in objs
              if o["kind"] in WORKLOADS + ("Kafka",)}
    assert charts <= tests, f"no helm test for {charts - tests}"


@pytest.mark.parametrize("example", ["operator/examples/keti.yaml", "charts/sensorcast/examples/intel-lab.yaml"])
def test_example_pipelines_name_what_the_umbrella_installs(render, example):
    """The examples' defaults (Kafka cluster, HDFS, OpenTSDB, Spark account) resolve in the release namespace."""
    from sensorcast_operator.schema_defaults import defaulted_spec

    fp = yaml.safe_load((helmtool.ROOT / example).read_text())
    spec = defaulted_spec(fp["spec"])
    objs = render("default")
    names = {(o["kind"], o["metadata"]["name"]) for o in objs}
    services = {o["metadata"]["name"]: {p["port"] for p in o["spec"]["ports"]} for o in objs if o["kind"] == "Service"}
    assert ("Kafka", spec["kafka"]["strimziCluster"]) in names
    assert ("ServiceAccount", spec["spark"]["serviceAccount"]) in names
    for uri in (spec["spark"]["checkpoint"], spec["sinks"]["parquet"]["uri"], spec["sinks"]["opentsdb"]["url"]):
        host, port = re.match(r"\w+://([^:/]+):(\d+)", uri).groups()
        assert int(port) in services.get(host, set()), f"{example}: {uri} is not a Service of the release"
