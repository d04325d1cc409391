"""Benchmark ``opentsdb-sink``: the embedded job on a KETI slice with and without the OpenTSDB sink, into a real
TSD over HBase started for the run (``hack/tsdb.sh``): points/s into the TSD, the sink's share of the job's wall
time, for a few batch sizes and numbers of requests in flight."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from .. import config, run
from ..sinks.opentsdb import OpenTsdbSink
from ..stream import models_of
from .registry import Result, Table, register
from .report import log

NAME = "opentsdb-sink"
SCRIPT = Path(__file__).resolve().parents[3] / "hack" / "tsdb.sh"
SETTINGS = [(200, 4), (50, 4), (1000, 4), (200, 1), (200, 8)]  # (points per put, puts in flight); first: default


def _tsd(cmd: str, folder: Path) -> str:
    res = subprocess.run(["bash", str(SCRIPT), cmd, str(folder)], capture_output=True, text=True, timeout=900)
    if res.returncode:
        raise RuntimeError(f"hack/tsdb.sh {cmd} failed ({res.returncode}): {res.stderr[-2000:]}")
    return res.stdout.strip()


@register(NAME, order=50, summary="embedded job on a KETI slice → real OpenTSDB: points/s, the sink's share of "
          "wall time, batch size and concurrency")
def bench(out: Path, steps: int = 240) -> Result:
    cfg = config.load(dataset="keti")
    models, ranges = models_of(cfg), cfg["detection"]["ranges"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sensorcast-bench-tsdb-") as tmp:
        tmp = Path(tmp)
        url = _tsd("up", tmp / "tsdb").splitlines()[-1]
        try:
            t0 = time.perf_counter()
            base = run.run(cfg, tmp / "base", steps=steps, report=False)
            base_s = time.perf_counter() - t0
            readings = int(base["rows"])
            log(NAME, f"without the sink: {readings:,} readings in {base_s:.1f} s")
            for i, (size, conc) in enumerate(SETTINGS):
                sink = OpenTsdbSink(url, f"bench-{i}", models, ranges, tmp / f"state-{i}", batch_size=size,
                                    concurrency=conc, progress=False)
                t0 = time.perf_counter()
                run.run(cfg, tmp / f"run-{i}", steps=steps, report=False, extra_sinks=[sink])
                wall = time.perf_counter() - t0
                st = sink.stats
                log(NAME, f"batch {size}, {conc} in flight: {st.points:,} points in {st.seconds:.1f} s of "
                    f"{wall:.1f} s")
                rows.append([f"{size}", f"{conc}", f"{st.points:,}", f"{st.points / readings:.1f}",
                             f"{st.seconds:.1f}", f"{st.points / st.seconds:,.0f}", f"{wall:.1f}",
                             f"{100 * st.seconds / wall:.0f} %", f"{readings / wall:,.0f}",
                             f"{wall / base_s:.2f}×", f"{st.retries}", f"{st.failed}"])
        finally:
            _tsd("down", tmp / "tsdb")
    res = Result(NAME, f"the OpenTSDB sink: KETI, first {steps} steps ({readings:,} readings), embedded job")
    res.tables.append(Table(
        f"embedded job with the sink vs without it ({base_s:.1f} s, {readings / base_s:,.0f} readings/s: the baseline)",
        ["points per put", "puts in flight", "points", "points per reading", "sink s", "points/s", "job wall s",
         "sink share of wall", "readings/s", "wall ÷ baseline", "retries", "rejected"], rows))
    res.notes += [
        "OpenTSDB 2.4.1 over a standalone HBase 2.5 (local file system), both started by `hack/tsdb.sh` on this "
        "machine and sharing its 2 cores with the job. Each put is `/api/put?details&sync`: the TSD answers once "
        "HBase has the points, so a success means stored (what lets a failed micro-batch be replayed without "
        "loss); the sink keeps several puts in flight to hide that wait.",
        "Points per reading: actual, value, one prediction per model (5), flag, and the running daily MSE per "
        "model once per stream and micro-batch, plus a few pipeline-health points per batch.",
        "'sink s' is the time the sink spent writing (its part of each foreachBatch); the rest of the wall time is "
        "the job itself. The first row is the default (`--opentsdb-batch-size 200 --opentsdb-concurrency 4`).",
    ]
    res.data = {"readings": readings, "baseline_s": base_s, "rows": rows}
    return res
