"""``sensorcast replay``: a data set → reading records (design §3) on a Kafka topic, in time order.

Idempotent confluent-kafka producer; each record goes to partition crc32(key) mod partitions and carries
a sequence-number header, so a restarted replay (a Kubernetes Job retry) reads the last record of every
partition and continues after it instead of resending everything. Delivery reports are counted; the exit
code is non-zero when any record was not delivered. Bad input lines go to the dead-letter topic.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from .io.panel import Panel
from .records import TICK, bad_line_record, iso_ms, panel_records, slice_bounds, tick
from .sinks.kafka import watermarks

SEQ_HEADER = "sensorcast-seq"
RUN_HEADER = "sensorcast-replay"
EXIT_UNDELIVERED = 1
EXIT_INTERRUPTED = 143


@dataclass
class ReplayOptions:
    bootstrap: str
    topic: str = "sensor-readings"
    dead_letter_topic: str | None = "sensor-dead-letter"
    speedup: float | None = None  # data seconds per wall second; None: as fast as possible
    batch: str | None = None  # "day" | "hour": one slice at a time, flushed and closed
    partitions: int = 2  # when the topic has to be created
    resume: bool = True
    progress_every: float = 5.0
    delivery_timeout: float = 300.0  # seconds a record may wait for the broker (retries included)
    producer: dict = field(default_factory=dict)  # extra librdkafka settings


@dataclass
class Counts:
    records: int = 0  # records of the whole replay plan
    produced: int = 0  # readings-topic records handed to the producer (dead letters not included)
    delivered: int = 0
    failed: int = 0
    skipped: int = 0  # already in the topic (resumed)
    dead_letter: int = 0
    topic: str = ""
    errors: list[str] = field(default_factory=list)

    dead_letter_delivered: int = 0
    first_produce: float = 0.0  # wall time of the first readings-topic record handed to the producer

    def on_delivery(self, err, msg) -> None:
        if err is None:
            if msg.topic() == self.topic:
                self.delivered += 1
            else:
                self.dead_letter_delivered += 1
        else:
            self.failed += 1
            if len(self.errors) < 5:
                self.errors.append(str(err))


def fingerprint(panel: Panel, batch: str | None) -> str:
    """Identifies one replay plan: a resumed replay continues only a topic that holds the same plan."""
    text = (f"{panel.name}|{','.join(panel.measures)}|{len(panel.sensors)}|{len(panel.times)}|"
            f"{panel.times[0] if len(panel.times) else ''}|{panel.times[-1] if len(panel.times) else ''}|{batch}")
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def partition_of(key: str, partitions: int) -> int:
    return zlib.crc32(key.encode()) % partitions


def plan_size(panel: Panel, batch: str | None) -> int:
    """Records the replay sends: a tick per time step, a reading per present sensor and step, close ticks."""
    present = int(np.isfinite(panel.values).any(axis=2).sum())
    closes = len(slice_bounds(panel, batch)) - 1 if batch else (1 if len(panel.times) else 0)
    return len(panel.times) + present + closes


def ensure_topic(admin, topic: str, partitions: int, timeout: float = 30.0) -> tuple[int, bool]:
    """The topic's partition count and whether it was created now (with ``partitions``)."""
    from confluent_kafka.admin import NewTopic

    meta = admin.list_topics(timeout=timeout)
    if topic in meta.topics and not meta.topics[topic].error:
        return len(meta.topics[topic].partitions), False
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    try:
        futures[topic].result(timeout)
    except Exception as exc:  # created meanwhile by someone else: fine
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise
    deadline = time.time() + timeout
    while time.time() < deadline:
        meta = admin.list_topics(topic, timeout=timeout)
        parts = meta.topics[topic].partitions if topic in meta.topics and not meta.topics[topic].error else {}
        if parts and all(pm.leader >= 0 for pm in parts.values()):
            return len(parts), True
        time.sleep(0.2)
    raise RuntimeError(f"topic {topic} did not appear in {timeout:.0f} s")


def last_sequence(bootstrap: str, topic: str, partitions: int, run_id: str, timeout: float = 30.0) -> list[int]:
    """Per partition, the sequence number of the last record this replay plan produced there (-1: none)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"sensorcast-replay-resume-{run_id}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    out = [-1] * partitions
    try:
        for p in range(partitions):
            lo, hi = watermarks(consumer, TopicPartition(topic, p), timeout)
            if hi <= lo:
                continue
            consumer.assign([TopicPartition(topic, p, hi - 1)])
            deadline = time.time() + timeout
            while time.time() < deadline:
                msg = consumer.poll(1.0)
                if msg is None or msg.error():
                    continue
                headers = dict(msg.headers() or [])
                if headers.get(RUN_HEADER, b"").decode() == run_id:
                    out[p] = int(headers[SEQ_HEADER])
                break
            else:
                raise RuntimeError(f"could not read the last record of {topic}[{p}] in {timeout:.0f} s")
    finally:
        consumer.close()
    return out


class Pacer:
    """Sleeps so that data time advances ``speedup`` times faster than wall time (from the first record sent)."""

    def __init__(self, speedup: float | None) -> None:
        self.speedup = speedup
        self.t0: float | None = None
        self.d0 = 0

    def wait(self, data_ms: int, stop) -> None:
        if not self.speedup:
            return
        if self.t0 is None:
            self.t0, self.d0 = time.time(), data_ms
            return
        due = self.t0 + (data_ms - self.d0) / 1000.0 / self.speedup
        while not stop.requested and (delay := due - time.time()) > 0:
            time.sleep(min(delay, 0.5))


class _Stop:
    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True


def replay(panel: Panel, opts: ReplayOptions, out=sys.stdout, err=sys.stderr) -> int:
    """Produce the panel's records to ``opts.topic``; returns the process exit code."""
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient

    t_start = time.time()
    run_id = fingerprint(panel, opts.batch)
    base = {"bootstrap.servers": opts.bootstrap}
    admin = AdminClient(base)
    n_part, created = ensure_topic(admin, opts.topic, opts.partitions)
    resume = opts.resume and not created
    last = last_sequence(opts.bootstrap, opts.topic, n_part, run_id) if resume else [-1] * n_part
    resumed = max(last) >= 0
    counts = Counts(records=plan_size(panel, opts.batch), topic=opts.topic)
    producer = Producer({**base, "enable.idempotence": True, "acks": "all", "linger.ms": 20,
                         "compression.type": "lz4", "batch.size": 1_000_000,
                         "queue.buffering.max.messages": 500_000, "queue.buffering.max.kbytes": 512 * 1024,
                         "message.timeout.ms": int(opts.delivery_timeout * 1000),
                         "on_delivery": counts.on_delivery, **opts.producer})
    stop = _Stop()
    stop.install()
    print(f"replay: {panel.name} → {opts.topic}@{opts.bootstrap} ({n_part} partitions), {counts.records:,} records, "
          f"speedup {opts.speedup or 'max'}{', slices of one ' + opts.batch if opts.batch else ''}"
          f"{', resuming after record #' + str(max(last)) if resumed else ''}",
          file=err, flush=True)

    def send(topic: str, key: str, value: str, partition: int, headers=None) -> None:
        while True:
            try:
                producer.produce(topic, value.encode(), key.encode(), partition=partition, headers=headers)
                if topic == opts.topic:
                    counts.produced += 1
                    counts.first_produce = counts.first_produce or time.time()
                break
            except BufferError:
                producer.poll(0.05)
            except KafkaException as exc:  # fatal idempotence error etc.: counted as not delivered
                counts.failed += 1
                counts.errors.append(str(exc))
                break
        if counts.produced % 2000 == 0:
            producer.poll(0)

    if opts.dead_letter_topic and panel.bad.total and not resumed:
        sent = 0
        for b in panel.bad.samples:
            send(opts.dead_letter_topic, b.reason, bad_line_record(panel.name, b.line_no, b.reason, b.text), -1)
            sent += 1
        for reason, n in panel.bad.counts.items():  # beyond the samples a reader keeps: one record per reason
            rest = n - sum(1 for b in panel.bad.samples if b.reason == reason)
            if rest > 0:
                send(opts.dead_letter_topic, reason, json.dumps(
                    {"stage": "replay", "source": panel.name, "reason": reason, "count": rest, "raw": None,
                     "note": "lines beyond the kept samples"}), -1)
                sent += 1
        counts.dead_letter = sent
        producer.flush(opts.delivery_timeout)

    bounds = slice_bounds(panel, opts.batch) if opts.batch else np.array([0, len(panel.times)])
    pacer = Pacer(opts.speedup)
    seq = -1
    next_report = time.time() + opts.progress_every
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        need_pace = True  # pace once per slice (--batch) or once per time step, before its first unsent record
        for t in range(a, b):
            if stop.requested:
                break
            need_pace = need_pace or opts.batch is None
            for key, value in panel_records(panel, t, t + 1):
                seq += 1
                p = partition_of(key, n_part)
                if seq <= last[p]:
                    counts.skipped += 1
                    continue
                if need_pace:
                    pacer.wait(_ms(panel.times[a if opts.batch else t]), stop)
                    need_pace = False
                send(opts.topic, key, value, p, [(SEQ_HEADER, str(seq).encode()), (RUN_HEADER, run_id.encode())])
            if time.time() >= next_report:
                next_report = time.time() + opts.progress_every
                _progress(counts, time.time() - t_start, err)
        if stop.requested:
            break
        # every record of the slice is in the log before its close tick: flush, then close
        seq += 1
        p = partition_of(TICK, n_part)
        if seq <= last[p]:
            counts.skipped += 1
            continue
        producer.flush(opts.delivery_timeout)
        close = tick(iso_ms(panel.times[b - 1]), int(panel.epochs[b - 1]), close=True)
        send(opts.topic, TICK, close, p, [(SEQ_HEADER, str(seq).encode()), (RUN_HEADER, run_id.encode())])
    left = producer.flush(opts.delivery_timeout + 30)
    seconds = time.time() - t_start
    undelivered = counts.produced - counts.delivered
    state = "interrupted" if stop.requested else ("done" if undelivered == 0 and not counts.failed else "incomplete")
    print(f"replay {state}: records={counts.records} sent={counts.produced} delivered={counts.delivered} "
          f"failed={counts.failed} undelivered={undelivered} queued={left} skipped={counts.skipped} "
          f"bad_lines={panel.bad.total} dead_letter={counts.dead_letter_delivered}/{counts.dead_letter} "
          f"seconds={seconds:.1f} rate={counts.produced / max(seconds, 1e-9):.0f}/s "
          f"first_produce={counts.first_produce:.3f} end={time.time():.3f}", file=out, flush=True)
    for e in counts.errors:
        print(f"replay: delivery error: {e}", file=err)
    if undelivered or counts.failed or counts.dead_letter_delivered < counts.dead_letter:
        return EXIT_UNDELIVERED
    return EXIT_INTERRUPTED if stop.requested else 0


def _ms(t: np.datetime64) -> int:
    return int(t.astype("datetime64[ms]").astype(np.int64))


def _progress(counts: Counts, elapsed: float, err) -> None:
    done = counts.produced + counts.skipped
    print(f"replay: {done:,}/{counts.records:,} records ({100 * done // max(counts.records, 1)}%), "
          f"{counts.produced / max(elapsed, 1e-9):,.0f} rec/s, delivered {counts.delivered:,}, "
          f"failed {counts.failed}", file=err, flush=True)
