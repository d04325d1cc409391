"""Benchmark ``kafka-scaling``: larger networks (``sensorcast synth`` copies of KETI) through a real local Kafka
broker into ``sensorcast stream``, with 1, 2 and 4 shards and as many input partitions: end-to-end readings/s
and CPU per reading, per network size and shard count (issue 7's Kafka measurements)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .. import synth
from .kafka_e2e import _hack
from .registry import Check, Result, Table, register
from .report import log

NAME = "kafka-scaling"


def _ints(text: str | int) -> list[int]:
    return [int(x) for x in str(text).split(",")]


@register(NAME, order=45, summary="synth KETI copies (540, 5,400 sensors) through Kafka → Spark stream with 1, 2, 4 "
          "shards = input partitions: readings/s end to end, CPU per reading")
def bench(out: Path, copies: str = "12,120", shards: str = "1,2,4", hours: float = 2.0,
          measure_name: str = "temperature") -> Result:
    kl, demo = _hack("kafka_local"), _hack("demo_kafka")
    kl.fetch()
    rows, data = [], []
    with tempfile.TemporaryDirectory(prefix="sensorcast-bench-kafka-scaling-") as tmp:
        tmp = Path(tmp)
        broker = kl.Broker(tmp / "kafka").start()
        try:
            for c in _ints(copies):
                folder = tmp / f"synth-{c}"
                info = synth.write(synth.SynthSpec("keti", c, days=hours / 24, measures=(measure_name,)), folder)
                extra = ["--format", "long-csv", "--locations", str(folder / "locations.csv")]
                for n in _ints(shards):
                    run_dir = tmp / f"run-{c}-{n}"
                    run_dir.mkdir()
                    log(NAME, f"{info['sensors']:,} sensors, {info['readings']:,} readings, {n} shard(s)")
                    e2e = demo.pipeline(str(folder / "readings.csv"), run_dir, broker.bootstrap, None, "max", n,
                                        shards=n, broker_sid=broker.pid(), data_extra=extra)
                    secs = e2e["first_produce_to_last_forecast_seconds"]
                    cpu = e2e["cpu_seconds"]
                    spark_cpu = cpu.get("spark stream", 0.0)
                    readings = info["readings"]
                    log(NAME, f"  {readings / secs:,.0f} readings/s, Spark {1e6 * spark_cpu / readings:.0f} µs "
                        "CPU/reading")
                    data.append({"sensors": info["sensors"], "shards": n, "readings": readings, "e2e": e2e})
                    rows.append([f"{info['sensors']:,}", str(n), f"{readings:,}", f"{e2e['forecast_rows']:,}",
                                 f"{secs:.1f}", f"{readings / secs:,.0f}", f"{1e6 * spark_cpu / readings:.0f}",
                                 f"{1e6 * sum(cpu.values()) / readings:.0f}", f"{e2e['spark_start_seconds']:.0f}"])
        finally:
            broker.stop()
    res = Result(NAME, f"synth KETI copies through Kafka → Spark, {hours:g} h windows, shards = input partitions")
    res.tables.append(Table(
        "end to end (stream started first, then `sensorcast replay --speedup max`; first produce → last forecast)",
        ["sensors", "shards = partitions", "readings", "forecast rows", "e2e s", "readings/s",
         "Spark µs CPU/reading", "all µs CPU/reading", "Spark start s"], rows))
    small = [d for d in data if d["sensors"] == min(x["sensors"] for x in data)]
    large = [d for d in data if d["sensors"] == max(x["sensors"] for x in data)]

    def cost(d: dict) -> float:
        return d["e2e"]["cpu_seconds"].get("spark stream", 0.0) / d["readings"]

    if small and large and small != large:
        best_s, best_l = min(map(cost, small)), min(map(cost, large))
        ratio = best_l / best_s
        res.checks.append(Check(f"Spark CPU per reading, {large[0]['sensors']:,} ÷ {small[0]['sensors']:,} sensors "
                                "(best shard count of each)", ratio, "<= 2", ratio <= 2, "×"))
    res.notes += [
        f"Input: `sensorcast synth --from keti --copies N` ({measure_name} only, the first {hours:g} h from the first "
        "UTC midnight), written as long CSV + locations and read by both `replay` and `stream` "
        "(`--format long-csv --locations`).",
        "Each row is one run on the same broker: a fresh topic created with as many partitions as the stream has "
        "shards (`--shards N`, `spark.sql.shuffle.partitions` = N). Spark runs in local mode on this 2-core machine "
        "together with the broker and the producer, so more shards cannot add cores here; the table shows the "
        "overhead of more shards and partitions, and the CPU per reading that sizes a cluster (docs/operations.md).",
        "CPU: user + system of all processes of each component, sampled each second from /proc (the stream: its "
        "Python driver, JVM and Python workers).",
    ]
    res.data = {"runs": data}
    return res
