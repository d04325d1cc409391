"""``sensorcast replay`` against the real local broker: every record once and in order, resume after a SIGKILL,
a broker restart survived without loss, a non-zero exit when records cannot be delivered, bad input lines on the
dead-letter topic."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess

import numpy as np
import pytest

from sensorcast import config, replay, run
from sensorcast.records import TICK, slice_bounds
from sensorcast.sinks.kafka import read_topic
from tests.integration.kafka_fixture import CLI, finish, kill, start, summary, wait_until

pytestmark = pytest.mark.kafka

STEPS = 240  # four hours of KETI: 45 rooms, 1-min steps
SLOW = ["--batch", "hour", "--speedup", "1200"]  # one hour slice every 3 s: about 10 s for the four slices


@pytest.fixture(scope="module")
def panel():
    return run.load_panel(config.load(dataset="keti"), STEPS)


def expected_values(panel, batch: str | None) -> collections.Counter:
    """The multiset of record values the replay must put in the topic (readings, ticks, close ticks)."""
    from sensorcast.records import iso_ms, panel_records, tick

    bounds = slice_bounds(panel, batch) if batch else [0, len(panel.times)]
    out = collections.Counter()
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        out.update(v for _, v in panel_records(panel, int(a), int(b)))
        out[tick(iso_ms(panel.times[int(b) - 1]), int(panel.epochs[int(b) - 1]), close=True)] += 1
    return out


def topic_records(kafka, topic: str) -> list[tuple]:
    return read_topic(kafka.bootstrap, topic, meta=True)


def check_topic(kafka, topic: str, panel, batch: str | None) -> list[tuple]:
    rows = topic_records(kafka, topic)
    seqs = [int(h[replay.SEQ_HEADER]) for *_, h in rows]
    assert len(seqs) == len(set(seqs)), "a record was written twice"
    assert collections.Counter(v.decode() for _, v, _, _ in rows) == expected_values(panel, batch)
    by_part = collections.defaultdict(list)
    for key, value, part, h in rows:
        assert part == replay.partition_of(key.decode(), 3)
        by_part[part].append((int(h[replay.SEQ_HEADER]), json.loads(value)["epoch"]))
    for part, recs in by_part.items():  # log order = send order = time order, in every partition
        assert [s for s, _ in recs] == sorted(s for s, _ in recs), part
        assert [e for _, e in recs] == sorted(e for _, e in recs), part
    return rows


def test_replay_sends_every_record_once_in_time_order(kafka, panel, tmp_path):
    args = ["replay", "--dataset", "keti", "--steps", str(STEPS), "--bootstrap-servers", kafka.bootstrap,
            "--topic", "replay-all", "--partitions", "3", "--batch", "hour"]
    rc, out = finish(start(args, tmp_path / "replay.log"), 300)
    assert rc == 0, out
    s = summary(out, "replay done:")
    n = replay.plan_size(panel, "hour")
    assert int(s["records"]) == int(s["sent"]) == int(s["delivered"]) == n
    assert s["failed"] == s["undelivered"] == s["skipped"] == "0"
    rows = check_topic(kafka, "replay-all", panel, "hour")
    keys = collections.Counter(k.decode() for k, *_ in rows)
    slices = len(slice_bounds(panel, "hour")) - 1
    assert slices == 5  # 23:04 to 03:03
    reporting = {panel.sensors[i] for i in np.flatnonzero(np.isfinite(panel.values).any(axis=(0, 2)))}
    assert keys[TICK] == STEPS + slices and set(keys) - {TICK} == reporting  # a tick per step, closes
    # a second run finds everything in the topic and sends nothing
    rc, out = finish(start(args, tmp_path / "again.log"), 300)
    assert rc == 0, out
    assert summary(out, "replay done:")["skipped"] == str(n) and summary(out, "replay done:")["sent"] == "0"
    assert len(topic_records(kafka, "replay-all")) == n


def test_replay_killed_and_restarted_continues_where_it_stopped(kafka, panel, tmp_path):
    args = ["replay", "--dataset", "keti", "--steps", str(STEPS), "--bootstrap-servers", kafka.bootstrap,
            "--topic", "replay-resume", "--partitions", "3", *SLOW]
    first = start(args, tmp_path / "first.log")
    n = replay.plan_size(panel, "hour")
    wait_until(lambda: len(topic_records(kafka, "replay-resume")) > n // 4, 120, "a first slice in the topic",
               first)
    kill(first)  # SIGKILL: no flush, no summary
    before = len(topic_records(kafka, "replay-resume"))
    assert 0 < before < n, "the kill came too late to test a resume"
    rc, out = finish(start(args, tmp_path / "second.log"), 300)
    assert rc == 0, out
    s = summary(out, "replay done:")
    assert int(s["skipped"]) == before and int(s["sent"]) == n - before
    check_topic(kafka, "replay-resume", panel, "hour")


def test_replay_survives_a_broker_restart(kafka, panel, tmp_path):
    args = ["replay", "--dataset", "keti", "--steps", str(STEPS), "--bootstrap-servers", kafka.bootstrap,
            "--topic", "replay-outage", "--partitions", "3", *SLOW]
    proc = start(args, tmp_path / "replay.log")
    wait_until(lambda: len(topic_records(kafka, "replay-outage")) > 0, 120, "first records", proc)
    kafka.restart(down_seconds=3)
    assert proc.poll() is None, "the replay ended before the outage: nothing was tested"
    rc, out = finish(proc, 600)
    assert rc == 0, out
    s = summary(out, "replay done:")
    assert int(s["delivered"]) == replay.plan_size(panel, "hour") and s["failed"] == "0"
    check_topic(kafka, "replay-outage", panel, "hour")


def test_replay_exits_nonzero_when_records_are_not_delivered(kafka, tmp_path):
    args = ["replay", "--dataset", "keti", "--steps", str(STEPS), "--bootstrap-servers", kafka.bootstrap,
            "--topic", "replay-lost", "--partitions", "3", "--delivery-timeout", "3", *SLOW]
    proc = start(args, tmp_path / "replay.log")
    wait_until(lambda: len(topic_records(kafka, "replay-lost")) > 0, 120, "first records", proc)
    kafka.stop()
    try:
        rc, out = finish(proc, 300)
    finally:
        kafka.start()
    assert rc == replay.EXIT_UNDELIVERED, out
    s = summary(out, "replay incomplete:")
    assert int(s["failed"]) > 0 and int(s["delivered"]) + int(s["failed"]) == int(s["sent"])


def test_bad_input_lines_go_to_the_dead_letter_topic(kafka, tmp_path):
    lines = ["timestamp,sensor,measure,value"]
    for t in range(30):
        for s in ("a", "b", "c"):
            lines.append(f"2024-01-01T00:{t:02d}:00Z,{s},temperature,{20 + t / 10 + ord(s) / 100:.3f}")
    bad = {5: "2024-01-01T00:03:00Z,a,temperature", 9: "yesterday,b,temperature,21.0",
           14: "2024-01-01T00:05:00Z,c,temperature,warm", 20: "2024-01-01T00:07:00Z,,temperature,20.5"}
    for no in sorted(bad):  # line numbers of the file (header = line 1)
        lines.insert(no - 1, bad[no])
    path = tmp_path / "readings.csv"
    path.write_text("\n".join(lines) + "\n")
    args = ["replay", "--dataset", str(path), "--bootstrap-servers", kafka.bootstrap, "--topic", "csv-readings",
            "--dead-letter-topic", "csv-dead-letter"]
    rc, out = finish(start(args, tmp_path / "replay.log"), 300)
    assert rc == 0, out
    s = summary(out, "replay done:")
    assert s["bad_lines"] == "4" and s["dead_letter"] == "4/4"
    dead = {r["line"]: r for r in (json.loads(v) for _, v in read_topic(kafka.bootstrap, "csv-dead-letter"))}
    assert sorted(dead) == sorted(bad)
    assert {no: d["raw"] for no, d in dead.items()} == bad
    assert {no: d["reason"] for no, d in dead.items()} == {5: "missing fields", 9: "bad timestamp",
                                                             14: "non-numeric value", 20: "missing fields"}
    readings = [json.loads(v) for _, v in read_topic(kafka.bootstrap, "csv-readings")]
    assert sum(len([x for x in r["measures"].values() if x is not None]) for r in readings) == 90


def test_replay_stops_on_sigterm_after_flushing(kafka, tmp_path):
    args = ["replay", "--dataset", "keti", "--steps", str(STEPS), "--bootstrap-servers", kafka.bootstrap,
            "--topic", "replay-term", "--partitions", "3", *SLOW]
    proc = start(args, tmp_path / "replay.log")
    wait_until(lambda: len(topic_records(kafka, "replay-term")) > 0, 120, "first records", proc)
    kill(proc, signal.SIGTERM)
    rc, out = finish(proc, 120)
    assert rc == replay.EXIT_INTERRUPTED, out
    s = summary(out, "replay interrupted:")
    assert s["delivered"] == s["sent"] and s["undelivered"] == "0"
    assert len(topic_records(kafka, "replay-term")) == int(s["sent"]) < int(s["records"])


def test_replay_refuses_without_a_broker_address():
    env = {k: v for k, v in os.environ.items() if k != "SENSORCAST_KAFKA"}
    proc = subprocess.run([CLI, "replay", "--dataset", "keti"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and "--bootstrap-servers" in proc.stderr
