"""``make demo-kafka``: a data set replayed through a real local Kafka broker into ``sensorcast stream``.

Starts a broker of its own in OUT/kafka (or uses ``--bootstrap-servers`` with topics named for this run), then
the stream (Kafka → Spark → Parquet + Kafka), waits until its query runs, then the replay (at full speed unless
``--speedup``). The stream stops itself once input has been idle for ``--idle`` seconds after the last record;
then OUT/metrics.json and OUT/report.html are written from the Parquet archive, as ``make demo`` does, with the
Kafka output topic read back and counted. Wall and CPU time per component go to OUT/pipeline.json (``pipeline``
is what the Kafka benchmark runs too).

With ``--opentsdb URL`` (``make demo-stack``) the stream also writes its points to that TSD under the tag
``--pipeline``, and OUT/report.html is built from the points read back from the TSD (``sensorcast report
--opentsdb``; its metrics in OUT/metrics-opentsdb.json) instead of the Parquet archive.

    .venv/bin/python hack/demo_kafka.py --dataset keti --out out/demo-kafka [--steps N] [--speedup X]
    .venv/bin/python hack/demo_kafka.py --dataset keti --out out/stack --opentsdb URL [--pipeline NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kafka_local  # noqa: E402  (hack/ is not a package)

CLI = str(Path(sys.executable).with_name("sensorcast"))
TICKS = os.sysconf("SC_CLK_TCK")


class CpuMeter(threading.Thread):
    """Samples the CPU seconds (user + system) of every process in some sessions, once a second."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sessions: dict[int, str] = {}
        self.best: dict[int, tuple[str, float]] = {}  # pid → (component, highest CPU seconds seen)
        self.done = threading.Event()

    def watch(self, sid: int, name: str) -> None:
        self.sessions[sid] = name

    def sample(self) -> None:
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            sid = int(fields[3])
            if sid in self.sessions:
                cpu = (int(fields[11]) + int(fields[12])) / TICKS
                pid = int(d)
                if cpu >= self.best.get(pid, ("", -1.0))[1]:
                    self.best[pid] = (self.sessions[sid], cpu)

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.sample()

    def totals(self) -> dict[str, float]:
        self.sample()
        out: dict[str, float] = {}
        for name, cpu in self.best.values():
            out[name] = round(out.get(name, 0.0) + cpu, 1)
        return out


def _summary(text: str, prefix: str) -> dict[str, str]:
    lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    if not lines:
        raise RuntimeError(f"no {prefix!r} line in:\n{text[-3000:]}")
    return dict(p.split("=", 1) for p in lines[-1].split() if "=" in p)


def _start(args: list[str], log: Path) -> subprocess.Popen:
    fh = open(log, "wb")  # closed with the process by the OS when this process ends
    return subprocess.Popen([CLI, *args], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)


def pipeline(dataset: str, out: Path, bootstrap: str | None = None, steps: int | None = None,
             speedup: str = "max", partitions: int = 2, idle: float = 20.0, shards: int | None = None,
             broker_sid: int | None = None, timeout: float = 3600.0, stream_extra: Sequence[str] = (),
             data_extra: Sequence[str] = ()) -> dict:
    """Run stream + replay once through Kafka; returns the timings, counts and CPU split. ``stream_extra``:
    more options of ``sensorcast stream`` (e.g. the OpenTSDB sink's); ``data_extra``: more data set options of
    both (e.g. ``--format long-csv --locations FILE``)."""
    run_id = time.strftime("%Y%m%d-%H%M%S")
    topics = {"in": f"readings-{run_id}", "out": f"forecasts-{run_id}", "dead": f"dead-letter-{run_id}"}
    data = ["--dataset", dataset, *data_extra] + (["--steps", str(steps)] if steps else [])
    meter = CpuMeter()
    if broker_sid:
        meter.watch(broker_sid, "kafka broker")
    meter.start()
    t_launch = time.time()
    stream = _start(["stream", *data, "--bootstrap-servers", bootstrap, "--input-topic", topics["in"],
                     "--output-topic", topics["out"], "--dead-letter-topic", topics["dead"],
                     "--checkpoint", str(out / "checkpoint"), "--parquet", str(out), "--idle-stop", str(idle),
                     *(["--shards", str(shards)] if shards else []), *stream_extra], out / "stream.log")
    meter.watch(stream.pid, "spark stream")
    # the replay creates the topic with its partitions; the stream's subscription waits for it
    from confluent_kafka.admin import AdminClient

    from sensorcast import replay as replay_mod

    replay_mod.ensure_topic(AdminClient({"bootstrap.servers": bootstrap}), topics["in"], partitions)
    deadline = time.time() + 600
    while "sensorcast stream:" not in (out / "stream.log").read_text(errors="replace"):
        if stream.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"the stream did not start:\n{(out / 'stream.log').read_text()[-3000:]}")
        time.sleep(0.5)
    time.sleep(5)  # the query is being started: let it subscribe before the first record
    t_query = time.time()
    rep = _start(["replay", *data, "--bootstrap-servers", bootstrap, "--topic", topics["in"],
                  "--dead-letter-topic", topics["dead"], "--partitions", str(partitions),
                  *(["--speedup", speedup] if speedup != "max" else [])], out / "replay.log")
    meter.watch(rep.pid, "replay producer")
    rc_replay = rep.wait(timeout)
    replay_log = (out / "replay.log").read_text(errors="replace")
    if rc_replay != 0:
        stream.terminate()
        raise RuntimeError(f"replay failed ({rc_replay}):\n{replay_log[-3000:]}")
    rc_stream = stream.wait(timeout)
    stream_log = (out / "stream.log").read_text(errors="replace")
    meter.done.set()
    if rc_stream != 0:
        raise RuntimeError(f"stream failed ({rc_stream}):\n{stream_log[-3000:]}")
    rs, ss = _summary(replay_log, "replay done:"), _summary(stream_log, "stream stopped")
    first, last = float(rs["first_produce"]), float(ss["last_output"])
    return {
        "dataset": dataset, "steps": steps, "speedup": speedup, "partitions": partitions, "topics": topics,
        "records": int(rs["sent"]), "forecast_rows": int(ss["forecast_rows"]), "batches": int(ss["batches"]),
        "dead_letter": ss["dead_letter"],
        "replay_seconds": float(rs["seconds"]), "replay_rate": float(rs["rate"].rstrip("/s")),
        "spark_start_seconds": round(t_query - t_launch, 1),
        "first_produce_to_last_forecast_seconds": round(last - first, 2),
        "replay_end_to_last_forecast_seconds": round(last - float(rs["end"]), 2),
        "cpu_seconds": meter.totals(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="keti")
    ap.add_argument("--out", default="out/demo-kafka")
    ap.add_argument("--steps", type=int, help="only the first N time steps")
    ap.add_argument("--speedup", default="max")
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--bootstrap-servers", help="use this broker instead of starting one")
    ap.add_argument("--no-report", action="store_true")
    ap.add_argument("--opentsdb", metavar="URL", help="the stream also writes to this TSD; the report is built "
                    "from it")
    ap.add_argument("--pipeline", default="demo", help="the points' pipeline tag with --opentsdb (default demo)")
    args = ap.parse_args(argv)

    import yaml

    from sensorcast import config, evaluate, run, stream
    from sensorcast.sinks.kafka import read_topic

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    broker = None
    bootstrap = args.bootstrap_servers
    if not bootstrap:
        kafka_local.fetch()
        broker = kafka_local.Broker(out / "kafka").start()
        bootstrap = broker.bootstrap
        print(f"demo-kafka: broker {kafka_local.KAFKA_VERSION} at {bootstrap} (log {broker.log_file})", flush=True)
    try:
        cfg = config.load(dataset=args.dataset)
        panel = run.load_panel(cfg, args.steps)
        print(f"demo-kafka: {panel.name}, {len(panel.sensors)} sensors × {len(panel.measures)} measures, "
              f"{len(panel.times):,} time steps, {panel.rows:,} readings; stream first, then the replay", flush=True)
        tsdb = ["--opentsdb", args.opentsdb, "--pipeline", args.pipeline] if args.opentsdb else []
        res = pipeline(args.dataset, out, bootstrap, args.steps, args.speedup, args.partitions,
                       broker_sid=broker.pid() if broker else None, stream_extra=tsdb)
        if args.opentsdb:
            res["opentsdb"], res["pipeline"] = args.opentsdb, args.pipeline
        res["readings"] = panel.rows
        res["readings_per_second"] = round(panel.rows / res["first_produce_to_last_forecast_seconds"])
        recs = read_topic(bootstrap, res["topics"]["out"], timeout=600)
        keys = {(json.loads(v)["sensor"], json.loads(v)["measure"], json.loads(v)["epoch"]) for _, v in recs}
        res["kafka_forecast_records"], res["kafka_forecast_keys"] = len(recs), len(keys)
    finally:
        if broker:
            broker.stop()
    (out / "pipeline.json").write_text(json.dumps(res, indent=1))
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    models = stream.models_of(cfg)
    metrics = run.metrics_from_forecasts(out / "forecasts", panel, cfg, models,
                                         res["first_produce_to_last_forecast_seconds"])
    metrics["engine"] = "spark+kafka"
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(evaluate.table(metrics))
    print(f"demo-kafka: {res['records']:,} records ({res['readings']:,} readings) through Kafka in "
          f"{res['first_produce_to_last_forecast_seconds']:.1f} s from first produce to last forecast "
          f"({res['readings_per_second']:,} readings/s); replay alone {res['replay_rate']:,.0f} records/s; "
          f"{res['forecast_rows']:,} forecasts archived, {res['kafka_forecast_records']:,} on Kafka "
          f"({res['kafka_forecast_keys']:,} distinct); CPU s {res['cpu_seconds']}", flush=True)
    if args.no_report:
        return 0
    if args.opentsdb:
        from sensorcast.report_tsdb import report_from_tsdb

        t0 = time.time()
        path = report_from_tsdb(out, args.opentsdb, args.pipeline)
        print(f"wrote {path} from OpenTSDB {args.opentsdb} (pipeline {args.pipeline}, read and plotted in "
              f"{time.time() - t0:.0f} s)")
    else:
        from sensorcast.report import write_report

        print(f"wrote {write_report(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
