"""Benchmark ``kafka-e2e``: a data set (full KETI) through a real local Kafka broker into ``sensorcast stream``
(Spark local mode → Parquet + Kafka), and the replay producer's rate alone.

End to end is readings per second from the first record produced to the last forecast written. Broker,
producer and Spark share this machine's cores, so the CPU seconds of each say how the time splits. The broker
and the pipeline runner live in hack/ (kafka_local.py, demo_kafka.py), as for ``make demo-kafka``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import config, run
from .registry import Check, Result, Table, register
from .report import log

NAME = "kafka-e2e"
TARGET = 20_000  # readings/s end to end
HACK = Path(__file__).resolve().parents[3] / "hack"


def _hack(name: str):
    """A module of hack/ (not a package: the broker and pipeline scripts are repository tools)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HACK / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def replay_alone(bootstrap: str, dataset: str, steps: int | None, partitions: int, log_path: Path) -> dict:
    """``sensorcast replay --speedup max`` into a fresh topic with nothing consuming it."""
    cli = str(Path(sys.executable).with_name("sensorcast"))
    args = [cli, "replay", "--dataset", dataset, "--bootstrap-servers", bootstrap, "--topic", "bench-replay-alone",
            "--partitions", str(partitions)] + (["--steps", str(steps)] if steps else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=3600)
    log_path.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"replay failed ({proc.returncode}): {proc.stderr[-2000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("replay done:")][-1]
    s = dict(p.split("=", 1) for p in line.split() if "=" in p)
    return {"records": int(s["sent"]), "seconds": float(s["seconds"]),
            "active_seconds": float(s["end"]) - float(s["first_produce"])}


@register(NAME, order=40, summary="full KETI through a local Kafka broker → Spark stream → Parquet+Kafka: "
          "readings/s first produce → last forecast, and the replay producer alone")
def bench(out: Path, dataset: str = "keti", steps: int | None = None, partitions: int = 2,
          shards: int | None = None) -> Result:
    kl, demo = _hack("kafka_local"), _hack("demo_kafka")
    kl.fetch()
    cfg = config.load(dataset=dataset)
    panel = run.load_panel(cfg, steps)
    readings = panel.rows
    with tempfile.TemporaryDirectory(prefix="sensorcast-bench-kafka-") as tmp:
        broker = kl.Broker(Path(tmp) / "kafka").start()
        try:
            log(NAME, f"replay alone: {dataset}, {readings:,} readings, to a topic of {partitions} partitions")
            alone = replay_alone(broker.bootstrap, dataset, steps, partitions, Path(tmp) / "replay-alone.log")
            log(NAME, f"replay alone: {alone['records']:,} records in {alone['active_seconds']:.1f} s")
            e2e_dir = Path(tmp) / "e2e"
            e2e_dir.mkdir()
            log(NAME, "end to end: stream started first, then the replay at full speed")
            e2e = demo.pipeline(dataset, e2e_dir, broker.bootstrap, steps, "max", partitions, shards=shards,
                                broker_sid=broker.pid())
        finally:
            broker.stop()
    secs = e2e["first_produce_to_last_forecast_seconds"]
    rate = readings / secs
    log(NAME, f"end to end: {readings:,} readings in {secs:.1f} s = {rate:,.0f} readings/s")
    res = Result(NAME, f"{dataset} through Kafka → Spark → Parquet + Kafka on this machine")
    res.tables.append(Table("replay producer alone (`sensorcast replay --speedup max`, nothing consuming)",
                            ["records", "readings", "first produce → last delivery s", "records/s", "readings/s"],
                            [[f"{alone['records']:,}", f"{readings:,}", f"{alone['active_seconds']:.1f}",
                              f"{alone['records'] / alone['active_seconds']:,.0f}",
                              f"{readings / alone['active_seconds']:,.0f}"]]))
    res.tables.append(Table(
        "end to end (`sensorcast stream` started first, then `sensorcast replay --speedup max`)",
        ["readings", "records", "forecast rows", "micro-batches", "first produce → last forecast s", "readings/s",
         "replay s (sharing the cores)", "last forecast after replay end s", "Spark start s"],
        [[f"{readings:,}", f"{e2e['records']:,}", f"{e2e['forecast_rows']:,}", str(e2e["batches"]), f"{secs:.1f}",
          f"{rate:,.0f}", f"{e2e['replay_seconds']:.1f}", f"{e2e['replay_end_to_last_forecast_seconds']:.1f}",
          f"{e2e['spark_start_seconds']:.1f}"]]))
    cpu = e2e["cpu_seconds"]
    total = sum(cpu.values()) or 1.0
    res.tables.append(Table("how the time splits: CPU seconds per component during the end-to-end run",
                            ["component", "CPU s", "share"],
                            [[k, f"{v:.1f}", f"{100 * v / total:.0f} %"] for k, v in sorted(cpu.items())]))
    res.checks.append(Check(f"{dataset} end to end through Kafka (readings/s)", rate, f">= {TARGET:,}",
                            rate >= TARGET, " readings/s"))
    res.notes += [
        f"Kafka {kl.KAFKA_VERSION} (one KRaft node, -Xmx512m) on loopback, topic of {partitions} partitions; the "
        f"stream in Spark local mode with {shards or cfg['spark']['shards']} shard(s) and otherwise its default config "
        "(sharded applyInPandasWithState, RocksDB state), trigger "
        "as fast as possible, sinks Parquet and Kafka; the replay as fast as it can. All three share the machine.",
        "End to end runs from the replay's first produce call to the end of the micro-batch that wrote the last "
        "forecast (its foreachBatch sinks done). 'Spark start' (JVM, session, query) comes before and is not "
        "counted. CPU seconds: user + system of every process of each component (the stream's Python driver, "
        "JVM and Python workers), sampled each second from /proc.",
    ]
    res.data = {"alone": alone, "e2e": e2e, "readings": readings, "readings_per_s": rate}
    return res
