"""The Grafana dashboards against the real TSD after a run of the KETI slice (pipeline ``it-clean``): every
panel's query, built as Grafana's OpenTSDB data source builds it (tsdbVersion 4: ``/api/query?arrays=true``,
template variables substituted), returns data; the overview and daily-MSE panels show exactly the run's rows;
the health counters count them; the template variables' ``tag_values`` lookups list the run's tags."""

from __future__ import annotations

import time

import numpy as np
import pytest
import requests

from sensorcast import stream
from sensorcast.forecasts import pred_column
from tests import grafana
from tests.integration.tsdb_expect import MEASURES, SENSORS

pytestmark = [pytest.mark.tsdb, pytest.mark.spark]

PIPELINE = "it-clean"
SENSOR, MEASURE = "640", "temperature"  # room 640's long outage is inside the slice
DEAD = [{"malformed JSON": 2, "late": 1}, {"malformed JSON": 1}]  # two micro-batches: a counter's rate needs two
INTERVAL = "1s"  # Grafana's auto interval (panels without their own), as on a range of a few minutes
DASH = {p.stem: grafana.load(p) for p in grafana.DASHBOARDS}
QUERIES = [(name, p, t) for name, d in DASH.items() for p, t in grafana.targets(d)]


def variables(panel: dict | None = None) -> grafana.Variables:
    """The dashboard's selections: one sensor in a panel repeated per sensor, else every sensor ("All")."""
    sensors = [SENSOR] if panel is not None and panel.get("repeat") == "sensor" else SENSORS
    return {"pipeline": [PIPELINE], "measure": [MEASURE], "sensor": sensors}


def api_query(url: str, sub: dict, start_ms: int, end_ms: int) -> list[dict]:
    """/api/query as Grafana sends it for tsdbVersion 4 (``arrays=true``: dps as [[seconds, value], ...])."""
    resp = requests.post(f"{url}/api/query?arrays=true", json={"start": start_ms, "end": end_ms, "queries": [sub]},
                         timeout=120)
    assert resp.status_code == 200, (sub, resp.text[:500])
    return resp.json()


def panel_query(url: str, panel: dict, target: dict, rows) -> list[dict]:
    """A panel's query over a time range from the midnight before the run's first row to now (OpenTSDB drops a
    downsample bucket that starts before the range, as a daily one would)."""
    start = int(rows.ms.min()) // 86_400_000 * 86_400_000
    sub = grafana.subquery(target, variables(panel), interval=INTERVAL)
    return api_query(url, sub, start, int(time.time() * 1000) + 60_000)


def find(dashboard: str, title: str) -> tuple[dict, dict]:
    (hit,) = [(p, t) for name, p, t in QUERIES if name == dashboard and p["title"] == title]
    return hit


@pytest.fixture(scope="module")
def run_rows(clean_run):
    """The slice's rows; the clean run's sink is also handed micro-batches of dead letters only (the slice has
    no bad input), through its own write path, so the dead-letter panel has series."""
    _, rows, sink = clean_run
    for i, dead in enumerate(DEAD, start=int(rows.batch_id.max()) + 1):
        sink.write_rows(rows.iloc[:0], i, dead)
        time.sleep(1.1)  # in two downsample buckets
    return rows


@pytest.mark.parametrize(("name", "panel", "target"), QUERIES,
                         ids=[f"{n}:{p['id']}:{t['refId']}" for n, p, t in QUERIES])
def test_every_panel_query_returns_data(tsdb, run_rows, name, panel, target):
    res = panel_query(tsdb.url, panel, target, run_rows)
    assert res and sum(len(r["dps"]) for r in res) > 0, (name, panel["title"], target["refId"])
    for f in target["filters"]:
        if f["groupBy"] and f["type"] == "wildcard":
            assert len({r["tags"][f["tagk"]] for r in res}) == len(res) > 0  # one series per tag value


def test_overview_shows_the_rows(tsdb, slice_cfg, run_rows):
    panel = DASH["overview"]["panels"][0]
    rows = run_rows[(run_rows.sensor == SENSOR) & (run_rows.measure == MEASURE)]
    sec = rows.ms.to_numpy() // 1000
    by_ref = {t["refId"]: panel_query(tsdb.url, panel, t, run_rows) for t in panel["targets"]}
    expect = {"A": {"": rows.actual}, "B": {"": rows.value}}
    expect["C"] = {m: rows[pred_column(m)] for m in stream.models_of(slice_cfg)}
    for ref, series in expect.items():
        got = {r["tags"].get("model", ""): dict(r["dps"]) for r in by_ref[ref]}
        assert set(got) == set(series), ref
        for key, col in series.items():
            keep = col.notna().to_numpy()
            assert got[key] == dict(zip(sec[keep].tolist(), col[keep].astype(float).tolist(), strict=True)), key


def test_daily_mse_panel_is_each_days_mse(tsdb, slice_cfg, run_rows):
    panel, target = find("model-quality", "$sensor · $measure: daily MSE per model")
    lo, hi = slice_cfg["detection"]["ranges"][MEASURE]
    rows = run_rows[(run_rows.sensor == SENSOR) & (run_rows.measure == MEASURE) & run_rows.actual.between(lo, hi)]
    got = {r["tags"]["model"]: dict(r["dps"]) for r in panel_query(tsdb.url, panel, target, run_rows)}
    assert set(got) == set(stream.models_of(slice_cfg))
    for model, days in got.items():
        sc = rows[rows[pred_column(model)].notna()]
        want = ((sc[pred_column(model)] - sc.actual) ** 2).groupby(sc.ms // 86_400_000).mean()
        assert sorted(days) == [int(d) * 86_400 for d in want.index], model
        np.testing.assert_allclose([days[int(d) * 86_400] for d in want.index], want.to_numpy(), rtol=1e-12)


def test_health_panels_count_the_rows(tsdb, run_rows):
    panel, target = find("pipeline-health", "Forecast rows by flag since the job started")
    last = {r["tags"]["flag"]: r["dps"][-1][1] for r in panel_query(tsdb.url, panel, target, run_rows)}
    assert last == {f: float((run_rows.flag == f).sum()) for f in ("ok", "erroneous", "missing")}
    panel, target = find("pipeline-health", "Dead-letter rows/s by reason")
    assert {r["tags"]["reason"] for r in panel_query(tsdb.url, panel, target, run_rows)} == {"malformed_JSON", "late"}
    panel, target = find("pipeline-health", "Event-time lag")
    lags = [v for r in panel_query(tsdb.url, panel, target, run_rows) for _, v in r["dps"]]
    assert min(lags) > (time.time() - run_rows.ms.max() / 1000) - 3600  # the age of 2013 data, in seconds


def test_template_variables_list_the_runs_tags(tsdb, run_rows):
    want = {"pipeline": {PIPELINE}, "measure": set(MEASURES), "sensor": set(SENSORS)}
    for dash in DASH.values():
        for v in dash["templating"]["list"]:
            m, key = grafana.lookup_expression(v["query"], variables())
            resp = requests.get(f"{tsdb.url}/api/search/lookup", params={"m": m, "limit": 1000}, timeout=120)
            assert resp.status_code == 200, resp.text[:500]
            values = {r["tags"][key] for r in resp.json()["results"]}
            assert want[v["name"]] <= values and (v["name"] == "pipeline" or values == want[v["name"]]), m


def test_aggregators_are_the_tsds(tsdb):
    known = set(requests.get(f"{tsdb.url}/api/aggregators", timeout=30).json())
    used = {a for _, _, t in QUERIES for a in (t["aggregator"], t["downsampleAggregator"])}
    assert used <= known, used - known
