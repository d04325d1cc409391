"""The OpenTSDB sink against a real TSD: the embedded Spark job on a KETI slice writes exactly the points
of its forecast rows (actual, value, prediction per model, flag, running daily MSE); an outage the sink
rides out with retries, and one that fails the query and is replayed from the checkpoint, both end with
the same points as an uninterrupted run."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sensorcast import run, stream
from sensorcast.sinks.opentsdb import OpenTsdbError, OpenTsdbWriter
from tests.integration.tsdb_expect import expected_points, make_sink, read_points, run_with, window

pytestmark = [pytest.mark.tsdb, pytest.mark.spark]


def test_points_equal_forecast_rows(tsdb, slice_cfg, clean_run):
    out, rows, sink = clean_run
    models = stream.models_of(slice_cfg)
    assert rows.batch_id.nunique() >= 6 and set(rows.flag) == {"ok", "erroneous", "missing"}
    expect = expected_points(rows, models, slice_cfg["detection"]["ranges"])
    got = read_points(tsdb, "it-clean", *window(rows))
    assert set(got) == set(expect)
    n = {m: sum(len(v) for k, v in expect.items() if k[0] == m) for m in {k[0] for k in expect}}
    assert n["sensorcast.actual"] == rows.actual.notna().sum() and n["sensorcast.flag"] == len(rows)
    assert n["sensorcast.prediction"] == sum(rows[c].notna().sum() for c in rows if c.startswith("pred_"))
    assert n["sensorcast.mse"] > 0 and {k[3] for k in expect if k[0] == "sensorcast.mse"} == set(models)
    days = {t // 86_400_000 for k, v in expect.items() if k[0] == "sensorcast.mse" for t in v}
    assert len(days) == 2  # the slice crosses midnight: two daily windows
    for key, dps in expect.items():
        assert set(got[key]) == set(dps), key
        ts = sorted(dps)
        np.testing.assert_allclose([got[key][t] for t in ts], [dps[t] for t in ts], rtol=1e-12, atol=0,
                                   err_msg=str(key))
    assert sink.stats.failed == 0 and sink.stats.points == sum(n.values()) + sink.health_points


def test_daily_mse_ends_at_the_day_mse_of_the_rows(tsdb, slice_cfg, clean_run):
    """The last MSE point of each day is that day's MSE over all its scored rows (not a running partial)."""
    _, rows, _ = clean_run
    got = read_points(tsdb, "it-clean", *window(rows))
    lo, hi = slice_cfg["detection"]["ranges"]["temperature"]
    temp = rows[(rows.measure == "temperature") & rows.actual.between(lo, hi) & rows.pred_ema.notna()]
    for (sensor, day), g in temp.groupby(["sensor", rows.ms // 86_400_000]):
        series = got[("sensorcast.mse", sensor, "temperature", "ema")]
        last = max(t for t in series if t // 86_400_000 == day)
        assert series[last] == pytest.approx(float(((g.pred_ema - g.actual) ** 2).mean()), rel=1e-12)


class Outage:
    """A sink placed before the OpenTSDB sink: at the start of micro-batch ``at`` it stops the TSD (so the
    outage hits that batch's writes, whatever the timing), and restarts it ``down`` seconds later (``down=None``:
    once ``release`` is set)."""

    def __init__(self, tsdb, at: int, down: float | None) -> None:
        self.tsdb, self.at, self.down = tsdb, at, down
        self.release = threading.Event()
        self.stopped = threading.Event()
        self.error: BaseException | None = None
        self._restart = threading.Thread(target=self._start_again, daemon=True)

    def write(self, batch_df, batch_id: int, counts: dict[str, int]) -> None:
        if batch_id == self.at and not self.stopped.is_set():
            self.tsdb.stop_tsd()
            self.stopped.set()
            self._restart.start()

    def _start_again(self) -> None:
        try:
            if self.down is None:
                self.release.wait(600)
            else:
                time.sleep(self.down)
            self.tsdb.start_tsd()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def join(self, timeout: float) -> None:
        if self.stopped.is_set():
            self._restart.join(timeout)


def test_outage_ridden_out_by_retries(tsdb, slice_cfg, clean_run, tmp_path):
    _, clean_rows, _ = clean_run
    sink = make_sink(tsdb, slice_cfg, "it-retry", tmp_path / "opentsdb-state", max_retries=14, backoff=0.5,
                     max_backoff=4.0)
    outage = Outage(tsdb, at=2, down=3.0)
    run.run(slice_cfg, tmp_path, report=False, extra_sinks=[outage, sink])
    outage.join(120)
    assert outage.error is None and outage.stopped.is_set()
    assert sink.stats.retries > 0  # the outage did hit the sink
    start, end = window(clean_rows)
    assert read_points(tsdb, "it-retry", start, end) == read_points(tsdb, "it-clean", start, end)


def test_outage_fails_query_then_replay_from_checkpoint(tsdb, slice_cfg, clean_run, tmp_path):
    _, clean_rows, _ = clean_run
    state = tmp_path / "opentsdb-state"
    outage = Outage(tsdb, at=3, down=None)
    failing = make_sink(tsdb, slice_cfg, "it-replay", state, max_retries=2, backoff=0.2, max_backoff=0.5)
    try:
        with pytest.raises(Exception, match="OpenTSDB"):
            run.run(slice_cfg, tmp_path, report=False, extra_sinks=[outage, failing])
    finally:
        outage.release.set()
        outage.join(120)
    assert outage.error is None and outage.stopped.is_set()
    committed = {int(p.name) for p in (tmp_path / "checkpoint" / "commits").iterdir() if p.name.isdigit()}
    assert committed == {0, 1, 2}  # the failed micro-batch 3 was not committed, so the restart replays it
    run_with(tsdb, slice_cfg, tmp_path, make_sink(tsdb, slice_cfg, "it-replay", state), resume=True)
    start, end = window(clean_rows)
    assert read_points(tsdb, "it-replay", start, end) == read_points(tsdb, "it-clean", start, end)


def test_writer_counts_rejected_points_and_keeps_the_rest(tsdb):
    writer = OpenTsdbWriter(tsdb.url, batch_size=3, concurrency=1)
    tags = {"sensor": "s1", "measure": "temperature", "pipeline": "it-writer"}
    pts = [{"metric": "sensorcast.actual", "timestamp": 1_600_000_000_000 + 1000 * i, "value": i + 0.25,
            "tags": tags} for i in range(5)]
    pts.insert(2, {"metric": "bad metric name", "timestamp": 1_600_000_000_500, "value": 1.0, "tags": tags})
    stats = writer.write(pts)
    assert (stats.points, stats.failed, stats.requests) == (5, 1, 2) and "bad metric name" in stats.errors[0]
    got = tsdb.query("sensorcast.actual", tags, 1_600_000_000_000 - 1)
    assert got[0]["dps"] == {str(p["timestamp"]): p["value"] for p in pts if p["metric"] == "sensorcast.actual"}


def test_writer_retries_then_raises_when_unreachable():
    import socket

    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    writer = OpenTsdbWriter(f"http://127.0.0.1:{port}", max_retries=3, backoff=0.05, max_backoff=0.1)
    t0 = time.perf_counter()
    with pytest.raises(OpenTsdbError, match="after 4 attempts"):
        writer.write([{"metric": "sensorcast.actual", "timestamp": 1, "value": 1.0, "tags": {"a": "b"}}])
    assert writer.stats.retries == 3 and writer.stats.requests == 4
    assert time.perf_counter() - t0 >= 0.05 / 2 + 0.1 / 2 + 0.1 / 2  # backed off between attempts
