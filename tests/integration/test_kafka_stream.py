"""``sensorcast stream`` fed by the real local broker (Spark local mode, the installed CLI as subprocesses).

Delivery guarantees: the driver is SIGKILLed mid-replay and restarted on its checkpoint; its Parquet output
equals an uninterrupted run's, and so does its Kafka output once deduplicated by (sensor, measure, epoch) —
and both equal the offline engine to 1e-9, so model state was restored, not relearned. A poison-pill corpus
goes to the dead-letter topic per reason while every good reading is still forecast. A failing query exits 1.
"""

from __future__ import annotations

import collections
import json
import random
import signal
import time

import numpy as np
import pandas as pd
import pytest

from sensorcast import config, evaluate, forecasts, replay, run
from sensorcast.backtest import outcome_frame
from sensorcast.io import datasets
from sensorcast.records import TICK, iso_ms, panel_records, tick
from tests.integration.kafka_fixture import (
    committed_batches,
    finish,
    kill,
    read_json,
    start,
    summary,
    tail,
    wait_until,
)

pytestmark = [pytest.mark.kafka, pytest.mark.spark]

STEPS = 600  # ten hours of KETI (45 rooms × 5 measures): eleven hour slices from 23:04
SPEEDUP = "300"  # an hour slice every 12 s: two minutes of replay, time to kill the driver inside it on a busy machine
KEY = ["epoch", "sensor", "measure"]


def create_topic(kafka, topic: str, partitions: int = 3) -> None:
    from confluent_kafka.admin import AdminClient

    replay.ensure_topic(AdminClient({"bootstrap.servers": kafka.bootstrap}), topic, partitions)


def stream_args(kafka, dataset: str, topic: str, out, *extra: str) -> list[str]:
    return ["stream", "--dataset", dataset, "--bootstrap-servers", kafka.bootstrap, "--input-topic", topic,
            "--output-topic", f"{topic}-out-{out.name}", "--dead-letter-topic", f"{topic}-dead-{out.name}",
            "--checkpoint", str(out / "checkpoint"), "--parquet", str(out / "archive"), *extra]


def parquet_rows(out) -> pd.DataFrame | None:
    try:
        return run.read_forecasts(out / "archive" / "forecasts")
    except Exception:  # not written yet, or a batch being written
        return None


def started(proc) -> bool:
    return "sensorcast stream:" in tail(proc, 10**6)


@pytest.fixture(scope="module")
def offline():
    cfg = config.load(dataset="keti")
    return outcome_frame(evaluate.run_protocol(run.load_panel(cfg, STEPS), cfg, "online", progress=False))


@pytest.fixture(scope="module")
def interrupted(kafka, tmp_path_factory, offline):
    """Stream B: started, fed by a paced replay, SIGKILLed after two micro-batches, restarted on its checkpoint,
    stopped by SIGTERM once the replay is complete and every forecast is archived."""
    out = tmp_path_factory.mktemp("interrupted")
    topic = "keti-readings"
    create_topic(kafka, topic)
    args = stream_args(kafka, "keti", topic, out, "--steps", str(STEPS), "--trigger", "2 seconds")
    first = start(args, out / "first.log")
    wait_until(lambda: started(first), 300, "stream B started", first)
    feeder = start(["replay", "--dataset", "keti", "--steps", str(STEPS), "--bootstrap-servers", kafka.bootstrap,
                    "--topic", topic, "--batch", "hour", "--speedup", SPEEDUP], out / "replay.log")
    wait_until(lambda: committed_batches(out / "checkpoint") >= 2 and parquet_rows(out) is not None, 300,
               "two micro-batches committed", first)
    kill(first)
    done_before = len(parquet_rows(out))
    assert feeder.poll() is None, "the replay had finished before the kill: nothing was interrupted"
    assert 0 < done_before < len(offline)
    second = start(args, out / "second.log")
    rc, replay_log = finish(feeder, 600)
    assert rc == 0, replay_log
    wait_until(lambda: (rows := parquet_rows(out)) is not None and len(rows) >= len(offline), 600,
               "every forecast archived", second)
    kill(second, signal.SIGTERM)
    rc, log = finish(second, 180)
    return {"out": out, "topic": topic, "rc": rc, "log": log, "done_before": done_before}


@pytest.fixture(scope="module")
def uninterrupted(kafka, tmp_path_factory, interrupted):
    """Stream A: the same topic (complete by now) from the earliest offsets, never interrupted."""
    out = tmp_path_factory.mktemp("uninterrupted")
    proc = start(stream_args(kafka, "keti", interrupted["topic"], out, "--steps", str(STEPS), "--idle-stop", "10"),
                 out / "stream.log")
    rc, log = finish(proc, 900)
    assert rc == 0, log
    assert "stream stopped (idle for 10 s)" in log
    return {"out": out, "topic": interrupted["topic"], "log": log}


def assert_same_forecasts(a: pd.DataFrame, b: pd.DataFrame, models: list[str]) -> None:
    assert len(a) == len(b)
    pd.testing.assert_frame_equal(a[KEY].reset_index(drop=True), b[KEY].reset_index(drop=True))
    assert (a.flag.to_numpy() == b.flag.to_numpy()).all()
    for col in [forecasts.pred_column(m) for m in models] + ["value", "actual", "residual_z"]:
        np.testing.assert_allclose(a[col].to_numpy(float), b[col].to_numpy(float), rtol=0, atol=1e-9,
                                   equal_nan=True, err_msg=col)


MODELS = ["persistence", "ema", "ar-rls", "spatial-rls", "ensemble"]


def test_uninterrupted_stream_equals_the_offline_engine(uninterrupted, offline):
    assert_same_forecasts(run.read_forecasts(uninterrupted["out"] / "archive" / "forecasts"), offline, MODELS)


def test_killed_and_restarted_stream_archives_the_same_forecasts(interrupted, uninterrupted):
    assert interrupted["rc"] == 0, interrupted["log"]  # SIGTERM: graceful stop, exit 0
    assert "stream stopped (SIGTERM)" in interrupted["log"]
    b = run.read_forecasts(interrupted["out"] / "archive" / "forecasts")
    assert not b.duplicated(KEY).any()
    a = run.read_forecasts(uninterrupted["out"] / "archive" / "forecasts")
    assert_same_forecasts(b, a, MODELS)


def test_killed_and_restarted_stream_kafka_output_deduplicated_equals(kafka, interrupted, uninterrupted):
    def keyed(topic: str) -> tuple[dict, int]:
        recs = read_json(kafka.bootstrap, topic)
        return {(r["sensor"], r["measure"], r["epoch"]): r for r in recs}, len(recs)

    a, n_a = keyed(f"{uninterrupted['topic']}-out-{uninterrupted['out'].name}")
    b, n_b = keyed(f"{interrupted['topic']}-out-{interrupted['out'].name}")
    assert n_a == len(a)  # an uninterrupted run writes each forecast once
    assert n_b >= len(b)  # at-least-once: a re-run micro-batch may write its records again
    assert a.keys() == b.keys()
    for k, rec in a.items():
        got = b[k]
        assert got.keys() == rec.keys() and got["flag"] == rec["flag"] and got["ts"] == rec["ts"]
        for field in ("actual", "value", "residual_z"):
            assert got[field] == pytest.approx(rec[field], abs=1e-9, nan_ok=True) if rec[field] is not None \
                else got[field] is None
        assert got["predictions"].keys() == rec["predictions"].keys() == set(MODELS)


def test_forecast_records_follow_the_design(kafka, uninterrupted, offline):
    recs = read_json(kafka.bootstrap, f"{uninterrupted['topic']}-out-{uninterrupted['out'].name}")
    assert len(recs) == len(offline)
    r = recs[len(recs) // 2]
    assert set(r) == {"ts", "epoch", "sensor", "measure", "actual", "predictions", "chosen", "value", "flag",
                      "residual_z"}
    assert r["ts"].endswith("Z") and len(r["ts"]) == 24 and r["chosen"] == "ensemble"
    assert collections.Counter(x["flag"] for x in recs) == collections.Counter(offline.flag)


# ---------------------------------------------------------------- poison pills

def intel_records(panel, start_step: int, stop_step: int) -> list[tuple[str, str]]:
    return list(panel_records(panel, start_step, stop_step))


def test_poison_pills_go_to_dead_letter_and_good_readings_are_forecast(kafka, tmp_path):
    from confluent_kafka import Producer

    cfg = config.load(dataset="intel-extract")
    panel = run.load_panel(cfg, None)
    steps_per_day = 48
    assert len(panel.times) == 5 * steps_per_day
    rng = random.Random(7)
    ts0, e0 = iso_ms(panel.times[10]), int(panel.epochs[10])
    s0 = panel.sensors[0]
    good = json.loads(intel_records(panel, 10, 11)[1][1])
    assert good["sensor"] == s0
    poison = {
        "malformed JSON": ["{not json", "", "[1, 2, 3]"],
        "missing fields": [json.dumps({"ts": ts0, "sensor": s0, "measures": {"temperature": 20.0}})],
        "bad epoch": [json.dumps({**good, "epoch": "ten"})],
        "non-numeric value": [json.dumps({**good, "measures": {"temperature": "21.5", "humidity": 40.0}})],
        "non-finite value": [json.dumps({**good, "measures": {"temperature": 0.0, "humidity": 40.0}})
                             .replace('"temperature": 0.0', '"temperature": NaN')],
        "bad timestamp": [json.dumps({**good, "ts": "yesterday"})],
        "unknown sensor": [json.dumps({**good, "sensor": "no-such-mote"})],
    }
    assert "NaN" in poison["non-finite value"][0]
    phase1: list[tuple[str, str]] = []
    for day in range(4):  # each day's records shuffled: out of order inside one micro-batch
        recs = intel_records(panel, day * steps_per_day, (day + 1) * steps_per_day)
        rng.shuffle(recs)
        phase1 += recs
    dup = next(r for r in phase1 if r[0] == s0 and json.loads(r[1])["epoch"] == e0)
    phase1.append(dup)  # the same reading twice
    for values in poison.values():
        phase1 += [("poison", v) for v in values]
    rng.shuffle(phase1)
    phase1.append((TICK, tick(iso_ms(panel.times[4 * steps_per_day - 1]), int(panel.epochs[4 * steps_per_day - 1]),
                              close=True)))
    late = json.loads(dup[1])  # a day-1 reading arriving on day 5, three days and more behind
    late["measures"] = {m: (v + 5.0 if v is not None else None) for m, v in late["measures"].items()}
    phase2 = intel_records(panel, 4 * steps_per_day, 5 * steps_per_day)
    phase2.insert(len(phase2) // 2, (s0, json.dumps(late)))
    phase2.append((TICK, tick(iso_ms(panel.times[-1]), int(panel.epochs[-1]), close=True)))

    topic = "intel-poison"
    create_topic(kafka, topic, 2)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True})

    def produce(recs):
        for key, value in recs:  # one partition: the test decides what a micro-batch holds
            producer.produce(topic, value.encode(), key.encode(), partition=0)
        assert producer.flush(60) == 0

    produce(phase1)
    out = tmp_path
    proc = start(stream_args(kafka, "intel-extract", topic, out, "--idle-stop", "10", "--trigger", "1 second"),
                 out / "stream.log")
    wait_until(lambda: committed_batches(out / "checkpoint") >= 1, 600, "the first micro-batch", proc)
    produce(phase2)
    rc, log = finish(proc, 600)
    assert rc == 0, log

    measures = len(panel.measures)
    expected = {reason: len(v) for reason, v in poison.items()}
    expected |= {"duplicate": measures, "late": measures}  # per reading (sensor, measure), from its home shard
    dead = read_json(kafka.bootstrap, f"{topic}-dead-{out.name}")
    assert collections.Counter(d["reason"] for d in dead) == expected
    assert {d["raw"] for d in dead if d["reason"] == "malformed JSON"} == set(poison["malformed JSON"])
    late_rows = [d for d in dead if d["reason"] == "late"]
    assert {(d["sensor"], d["epoch"]) for d in late_rows} == {(s0, e0)}
    assert sorted(d["value"] for d in late_rows) == sorted(v for v in late["measures"].values())
    assert int(summary(log, "stream stopped")["batches"]) >= 2
    archived = pd.concat([pd.read_parquet(p) for p in (out / "archive" / "dead-letter").iterdir()])
    assert collections.Counter(archived.reason) == expected

    # every good reading was forecast, exactly as the offline engine does on the clean data
    got = run.read_forecasts(out / "archive" / "forecasts")
    ref = outcome_frame(evaluate.run_protocol(panel, cfg, "online", progress=False))
    assert_same_forecasts(got, ref, MODELS)
    present = np.isfinite(panel.values).sum()
    assert np.isfinite(got.actual).sum() == present


def test_stream_exits_nonzero_when_the_query_fails(kafka, tmp_path):
    from confluent_kafka import Producer

    topic = "intel-fail"
    create_topic(kafka, topic, 1)
    panel = datasets.load("intel-extract")
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for key, value in panel_records(panel, 0, 5, close=True):
        producer.produce(topic, value.encode(), key.encode())
    assert producer.flush(60) == 0
    (tmp_path / "archive").write_text("a file where the Parquet folder should be")
    t0 = time.time()
    rc, log = finish(start(stream_args(kafka, "intel-extract", topic, tmp_path), tmp_path / "stream.log"), 600)
    assert rc == 1, log
    assert "query failed" in log and "stream failed:" in log
    assert time.time() - t0 < 600
