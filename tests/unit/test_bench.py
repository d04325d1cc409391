"""The bench machinery on a small slice of KETI: report structure, the docs page, and bank vs padasip weights.

No timing is asserted here: performance is measured by `make bench`.
"""

import numpy as np
import pytest

from sensorcast import config
from sensorcast.bench import load_all, model_bank
from sensorcast.bench.__main__ import main, parse_sets
from sensorcast.bench.registry import Result, Table
from sensorcast.bench.report import write_section
from sensorcast.bench.streams import forward_fill, from_panel

MEASURES = ["co2", "humidity", "light", "temperature"]


@pytest.fixture(scope="module")
def small(keti):
    return keti.select(stop=120)


def test_regressors_are_the_spatial_rls_tracking_terms(small):
    cfg = config.load(dataset="keti")
    s = from_panel(small, cfg, MEASURES)
    sel = small.select(measures=MEASURES)
    k = cfg["models"]["spatial-rls"]["neighbours"]
    assert (s.n, s.p, s.k, s.steps) == (len(sel.sensors) * 4, k + 1, k, len(sel.times) - 1)
    from sensorcast import network

    net = network.build(sel, cfg)
    vals = sel.values.copy()
    with np.errstate(invalid="ignore"):
        vals[(vals < net.lo) | (vals > net.hi)] = np.nan
    rng = np.random.default_rng(3)
    for _ in range(50):  # a direct per-record computation for random records
        t, si, mi = int(rng.integers(1, s.steps)), int(rng.integers(len(sel.sensors))), int(rng.integers(4))
        last = lambda a, j: a[:j + 1][np.isfinite(a[:j + 1])][-1] if np.isfinite(a[:j + 1]).any() else np.nan  # noqa: E731
        v = last(vals[:, si, mi], t - 1)
        nb = [last(vals[:, j, mi], t) for j in net.nbr[mi, si]]
        want = [(n - v) / net.scale[mi] for n in nb]
        want = [w if np.isfinite(w) else 0.0 for w in want] + [1.0]
        row = si * 4 + mi
        np.testing.assert_allclose(s.x[t - 1, row], want)
        y = (vals[t, si, mi] - v) / net.scale[mi]
        assert s.mask[t - 1, row] == np.isfinite(y)
        if np.isfinite(y):
            assert s.y[t - 1, row] == pytest.approx(y)


def test_forward_fill():
    a = np.array([[np.nan, 1.0], [2.0, np.nan], [np.nan, np.nan], [3.0, 4.0]])
    np.testing.assert_array_equal(forward_fill(a), [[np.nan, 1], [2, 1], [2, 1], [3, 4]])


@pytest.mark.parametrize("lam", [0.95, 0.995, 1.0])
def test_bank_and_padasip_agree_on_real_streams(small, lam):
    s = from_panel(small, config.load(dataset="keti"), MEASURES)
    san = model_bank.sanity(s, lam, 100.0, 100)
    assert san["finite"] and san["resets"] == 0 and san["updates"] > 0.9 * 100 * s.n
    assert san["max_abs_weight"] > 0.1  # the weights moved: agreement is not two zero vectors
    assert san["max_rel_diff"] <= model_bank.SANITY_TOL


def test_model_bank_report_structure(small, tmp_path):
    res = model_bank.run(tmp_path, panel=small, record_steps=20, rounds=2, latency_steps=5, mem_steps=5,
                         sanity_steps=60, scale_copies="1,2", scale_steps=10)
    assert res.name == "model-bank" and len(res.tables) == 3
    for t in res.tables:
        assert t.rows and all(len(r) == len(t.columns) for r in t.rows)
    main_t = res.tables[0]
    assert [r[0].split(" ")[0] for r in main_t.rows] == ["sensorcast", "padasip", "River"]
    assert set(res.data["ratios"]) == {"padasip", "river"} and all(v > 0 for v in res.data["ratios"].values())
    for r in [res.data["bank"], *res.data["per_record"]]:
        assert r["steps"] == 20 and r["updates"] == res.data["bank"]["updates"] and r["rounds"] == 2
        assert r["peak_bytes"] > 0 and r["rate_min"] <= r["updates_per_s"] <= r["rate_max"]
    assert [c["streams"] for c in res.data["scaling"]] == [180, 360]
    sanity = [c for c in res.checks if c.what.startswith("sanity")]
    assert len(sanity) == 1 and sanity[0].ok
    png = tmp_path / res.figures[0]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    md = tmp_path / "benchmarks.md"
    meta = {"cores": "2"}
    write_section(md, Result("other", "kept", tables=[Table("t", ["a"], [["1"]])]), meta, "d0", "cmd0")
    write_section(md, res, meta, "d1", "cmd1")
    write_section(md, res, meta, "d2", "cmd2")  # rewritten in place, not appended
    text = md.read_text()
    assert text.count("<!-- bench:model-bank -->") == 1 and "d1" not in text and "d2" in text
    assert "<!-- bench:other -->" in text and text.index("bench:other") < text.index("bench:model-bank")
    assert f"]({res.figures[0]})" in text and "throughput bank ÷ this" in text


def test_cli_registry_and_sets(capsys):
    names = list(load_all())
    assert names[:2] == ["model-bank", "backtest-keti"]
    assert parse_sets(["model-bank.record_steps=50"], names) == {"model-bank": {"record_steps": 50}}
    with pytest.raises(SystemExit):
        parse_sets(["nope.x=1"], names)
    assert main(["--list"]) == 0
    assert "model-bank" in capsys.readouterr().out
