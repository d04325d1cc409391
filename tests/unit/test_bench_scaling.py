"""The ``scaling`` benchmark's machinery on a tiny network (no Spark): cost probes, state accounting, the
report's structure and its docs section. No timing is asserted: performance is measured by `make bench`."""

import subprocess
import sys

import numpy as np
import pytest

from sensorcast import config
from sensorcast.bench import load_all, scaling
from sensorcast.bench.cost import measure
from sensorcast.bench.report import write_section


def test_cost_counts_child_processes():
    """A child that burns CPU inside the block, and is still alive at its end, is counted."""
    burn = ("import sys, time\ninput()\nt = time.process_time()\n"
            "while time.process_time() - t < 0.3: pass\nprint('done', flush=True)\ninput()")
    proc = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        def work() -> None:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "done"

        cost, _ = measure(work, children=True)
        idle, _ = measure(lambda: None, children=True)
    finally:
        proc.communicate("\n")
    assert cost.children_cpu_s >= 0.25 and cost.cpu_s < 0.25 and cost.total_cpu_s >= 0.25
    assert idle.children_cpu_s < 0.05
    assert cost.rss_peak > 0 and cost.tree_rss_peak >= cost.rss_peak


def test_state_bytes_add_up_and_grow_with_k(keti):
    src = keti.select(measures=["temperature"], stop=60)
    cfg = config.load(dataset="keti")
    st = scaling.state_bytes(src, cfg)
    parts = {k: v for k, v in st.items() if k not in ("total", "serialised", "streams")}
    assert st["streams"] == len(src.sensors)
    assert sum(parts.values()) == st["total"] and st["serialised"] >= st["total"]
    assert {"engine", "spatial-rls", "ar-rls", "ensemble", "detector"} <= set(parts)
    k8 = scaling.state_bytes(src, config.load(dataset="keti", sets=["spatial-rls.neighbours=8"]))
    assert k8["spatial-rls"] > st["spatial-rls"] and k8["ar-rls"] == st["ar-rls"]


def test_agree():
    a = {"by_measure": {"t": {"ema": {"mae": 1.0, "mse": 2.0, "n": 5}}}}
    assert scaling.agree(a, a) == 0.0
    b = {"by_measure": {"t": {"ema": {"mae": 1.0, "mse": 2.5, "n": 5}}}}
    assert scaling.agree(a, b) == pytest.approx(0.25)
    c = {"by_measure": {"t": {"ema": {"mae": 1.0, "mse": 2.0, "n": 4}}}}
    assert scaling.agree(a, c) == np.inf


def test_tiny_run_and_its_docs_section(tmp_path):
    assert "scaling" in load_all()
    res = scaling.run(tmp_path, copies="1,2", days=0.05, spark_copies="", fan_copies=2, ks="1,4",
                      shard_counts="2,4")
    assert [r["sensors"] for r in res.data["offline"]] == [45, 90]
    assert all(r["cpu_us"] > 0 and r["readings"] > 0 for r in res.data["offline"])
    assert [f["k"] for f in res.data["fanout"]] == [1, 4]
    assert all(1.0 <= f["fanout"][2] <= 2.0 for f in res.data["fanout"])
    assert [c.what.split(",")[0] for c in res.checks] == ["offline CPU per reading",
                                                          "model bank state per sensor-measure"]
    assert (tmp_path / scaling.FIGURE).stat().st_size > 10_000
    md = tmp_path / "benchmarks.md"
    write_section(md, res, {"cores": "2"}, "now", "python -m sensorcast.bench --only scaling")
    text = md.read_text()
    assert "<!-- bench:scaling -->" in text and f"![scaling]({scaling.FIGURE})" in text
