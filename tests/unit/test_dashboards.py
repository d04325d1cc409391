"""The Grafana dashboards and OpenTSDB datasource of charts/grafana as models: valid dashboard JSON (schema
version, unique panel ids, template variables), every panel on the provisioned datasource uid, every query on
a metric the sink writes with a well-formed aggregator and downsample, and the datasource's explicit OpenTSDB
version and ms resolution."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sensorcast.sinks import opentsdb
from tests import grafana

SINK_SOURCE = Path(opentsdb.__file__).read_text()
DOWNSAMPLE = re.compile(r"^(\d+(ms|s|m|h|d|w|n|y)|all)-[a-z0-9]+(-(none|nan|null|zero))?$")
AGGREGATORS = {"avg", "sum", "zimsum", "min", "max", "mimmin", "mimmax", "count", "last", "first", "dev", "none"}
VARIABLES = {"pipeline", "sensor", "measure"}
NAMES = [p.stem for p in grafana.DASHBOARDS]


@pytest.fixture(params=grafana.DASHBOARDS, ids=NAMES)
def dash(request) -> dict:
    return grafana.load(request.param)


def test_the_three_dashboards_exist():
    assert set(NAMES) == {"overview", "model-quality", "pipeline-health"}
    uids = [grafana.load(p)["uid"] for p in grafana.DASHBOARDS]
    assert len(set(uids)) == len(uids) and all(len(u) <= 40 for u in uids)


def test_datasource_is_opentsdb_2_4_with_ms_resolution():
    ds = grafana.datasource()
    assert ds["type"] == "opentsdb" and ds["uid"] == "sensorcast-opentsdb" and ds["access"] == "proxy"
    assert ds["jsonData"]["tsdbVersion"] == 4  # Grafana's "==2.4"
    assert ds["jsonData"]["tsdbResolution"] == 2  # millisecond
    assert re.fullmatch(r"\$\{?[A-Z_]+\}?", ds["url"])  # from the environment


def test_dashboard_model(dash):
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    assert dash["title"].startswith("sensorcast") and dash["uid"] and dash["time"]["from"]
    ids = [p["id"] for p in grafana.panels(dash)]
    assert ids and len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    for p in grafana.panels(dash):
        assert {"type", "title", "gridPos", "targets"} <= set(p), p.get("title")
        assert set(p["gridPos"]) == {"h", "w", "x", "y"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24


def test_every_panel_and_query_on_the_provisioned_datasource(dash):
    uid = grafana.datasource()["uid"]
    for p in grafana.panels(dash):
        assert p["datasource"] == {"type": "opentsdb", "uid": uid}, p["title"]
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == uid, (p["title"], t["refId"])
    for v in dash["templating"]["list"]:
        assert v["datasource"]["uid"] == uid, v["name"]


def test_template_variables(dash):
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert set(variables) == VARIABLES
    for v in variables.values():
        assert v["type"] == "query" and grafana.TAG_VALUES.match(v["query"]), v["name"]
    assert variables["sensor"]["multi"] and not variables["measure"]["multi"]
    used = {m.group(1) or m.group(2) for p, t in grafana.targets(dash)
            for f in t["filters"] for m in grafana.VARIABLE.finditer(f["filter"])}
    assert used <= VARIABLES and "pipeline" in used
    for p in grafana.panels(dash):
        if "repeat" in p:
            assert p["repeat"] in variables and variables[p["repeat"]]["multi"], p["title"]


def test_queries_are_well_formed(dash):
    for p, t in grafana.targets(dash):
        where = (p["title"], t["refId"])
        assert f'"{t["metric"]}"' in SINK_SOURCE, where  # a metric the sink writes
        assert t["aggregator"] in AGGREGATORS, where
        q = grafana.subquery(t, {"pipeline": ["p"], "sensor": ["a", "b"], "measure": ["m"]})
        assert DOWNSAMPLE.match(q["downsample"]), (where, q["downsample"])
        assert any(f["tagk"] == "pipeline" and f["filter"] == "p" for f in q["filters"]), where
        assert "$" not in str(q["filters"]), where
        if t.get("shouldComputeRate"):
            assert t["isCounter"], where  # counters: rates drop the reset of a restarted job
    for p in grafana.panels(dash):  # Grafana matches series to queries by metric when it cannot by index
        metrics = [t["metric"] for t in p["targets"]]
        assert len(metrics) == len(set(metrics)), p["title"]


def test_subquery_follows_grafana_rules():
    target = {"metric": "sensorcast.mse", "aggregator": "avg", "downsampleInterval": "", "downsampleAggregator":
              "last", "downsampleFillPolicy": "zero", "shouldComputeRate": True, "isCounter": True,
              "filters": [{"type": "literal_or", "tagk": "sensor", "filter": "$sensor", "groupBy": True}]}
    assert grafana.subquery(target, {"sensor": ["1", "24"]}, interval="5m") == {
        "metric": "sensorcast.mse", "aggregator": "avg", "downsample": "5m-last-zero", "rate": True,
        "rateOptions": {"counter": True, "dropResets": True},
        "filters": [{"type": "literal_or", "tagk": "sensor", "filter": "1|24", "groupBy": True}]}
    assert grafana.lookup_expression("tag_values(sensorcast.flag, sensor, pipeline=$pipeline)",
                                     {"pipeline": ["demo"]}) == ("sensorcast.flag{sensor=*,pipeline=demo}", "sensor")
