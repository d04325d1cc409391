"""``sensorcast`` command line: backtest (offline engine), run (the embedded streaming job), replay (data set →
Kafka), stream (the streaming job fed by Kafka), report, synth (a larger network derived from a real one)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from . import config as config_mod

EPILOG = "Model names: persistence, ema, ar-rls, spatial-rls, ensemble. Example: --set ar-rls.order=5"


def _common(p: argparse.ArgumentParser, out: bool = True) -> None:
    p.add_argument("--config", help="YAML config file (the pipeline ConfigMap's content)")
    p.add_argument("--dataset", help="keti | aqi36 | intel-extract | intel-raw | PATH (default keti)")
    p.add_argument("--format", help="input format when --dataset is a path (keti, aqi36, intel-extract, "
                   "intel-raw, long-csv, wide-csv; default: detected)")
    p.add_argument("--locations", help="CSV sensor,x,y or sensor,lat,lon (else from the data set, "
                   "else data-driven neighbours)")
    p.add_argument("--measures", help="comma-separated measures (default: all of the data set)")
    p.add_argument("--models", help="comma-separated models to run (default: all five)")
    p.add_argument("--set", action="append", default=[], metavar="MODEL.PARAM=VALUE",
                   help="set a parameter, e.g. spatial-rls.neighbours=8 or detection.z=5 (repeatable)")
    if out:
        p.add_argument("--out", required=True, help="output folder")


def _cfg(args: argparse.Namespace, **extra) -> dict:
    return config_mod.load(args.config, args.set, args.models.split(",") if args.models else None,
                           dataset=args.dataset, format=args.format, locations=args.locations,
                           measures=args.measures.split(",") if args.measures else None, **extra)


def cmd_backtest(args: argparse.Namespace) -> int:
    from . import backtest

    cfg = _cfg(args)
    res = backtest.backtest(cfg, args.protocol, args.out, write_forecasts=args.forecasts,
                            progress=not args.quiet)
    print(f"wrote {Path(args.out) / 'metrics.json'}")
    return 0 if res["models"] else 1


def cmd_run(args: argparse.Namespace) -> int:
    from . import run

    spark = {}
    if args.shards:
        spark["shards"] = args.shards
    if args.master:
        spark["master"] = args.master
    cfg = _cfg(args)
    cfg["spark"].update(spark)
    if args.slice:
        cfg["replay"]["slice"] = args.slice
    cfg = config_mod.validate(cfg)
    run.run(cfg, args.out, steps=args.steps, slices_per_batch=args.slices_per_batch, report=not args.no_report,
            extra_sinks=stream_sinks(args, cfg, Path(args.out) / "opentsdb-state"), resume=args.resume)
    print(f"wrote {Path(args.out) / 'metrics.json'} and {Path(args.out) / 'report.html'}")
    return 0


def _kafka_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap-servers", default=os.environ.get("SENSORCAST_KAFKA"),
                   help="Kafka bootstrap servers (default $SENSORCAST_KAFKA, which `make kafka-up` prints)")
    p.add_argument("--steps", type=_positive, help="only the first N time steps of the data set (a slice)")


def _need_bootstrap(args: argparse.Namespace) -> None:
    if not args.bootstrap_servers:
        raise config_mod.ConfigError("--bootstrap-servers: not given and $SENSORCAST_KAFKA is not set")


def _positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {n}")
    return n


def _speedup(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'max', got {text!r}")
    return value


def cmd_replay(args: argparse.Namespace) -> int:
    from . import replay, run

    _need_bootstrap(args)
    cfg = _cfg(args)
    panel = time_window(run.load_panel(cfg, args.steps), args.start, args.end)
    opts = replay.ReplayOptions(args.bootstrap_servers, args.topic, args.dead_letter_topic or None,
                                speedup=args.speedup, batch=args.batch, partitions=args.partitions,
                                resume=not args.no_resume, progress_every=args.progress_every,
                                delivery_timeout=args.delivery_timeout)
    from confluent_kafka import KafkaException

    try:
        return replay.replay(panel, opts)
    except (KafkaException, RuntimeError) as exc:
        print(f"sensorcast replay: Kafka at {args.bootstrap_servers}: {exc}", file=sys.stderr)
        return 1


def _utc(text: str | None, flag: str):
    """An ISO-8601 time (UTC unless it has an offset) as naive-UTC datetime64[ms]; None stays None."""
    import numpy as np
    import pandas as pd

    if not text:
        return None
    try:
        t = pd.Timestamp(text)
    except ValueError as exc:
        raise config_mod.ConfigError(f"{flag}: {text!r} is not an ISO-8601 time ({exc})") from None
    t = t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t
    return np.datetime64(t.to_datetime64(), "ms")


def time_window(panel, start: str | None, end: str | None):
    """The time steps of ``panel`` in [start, end) (the replay Job's dataset.start/end)."""
    import numpy as np

    lo, hi = _utc(start, "--start"), _utc(end, "--end")
    if lo is None and hi is None:
        return panel
    i = 0 if lo is None else int(np.searchsorted(panel.times, lo, side="left"))
    j = len(panel.times) if hi is None else int(np.searchsorted(panel.times, hi, side="left"))
    if j <= i:
        raise config_mod.ConfigError(f"--start/--end: no time step of {panel.name} in [{start}, {end}) "
                                     f"(it spans {panel.times[0]} .. {panel.times[-1]} UTC)")
    return panel.select(start=i, stop=j)


def cmd_stream(args: argparse.Namespace) -> int:
    from . import run, stream
    from .network import build

    _need_bootstrap(args)
    cfg = _cfg(args)
    if args.shards:
        cfg["spark"]["shards"] = args.shards
    if args.master:
        cfg["spark"]["master"] = args.master
    cfg = config_mod.validate(cfg)
    stream.lateness_ms(cfg)  # fail at start on a bad spark.allowed_lateness
    net = build(run.load_panel(cfg, args.steps), cfg)
    opts = stream.KafkaOptions(args.bootstrap_servers, args.input_topic, args.output_topic or None,
                               args.dead_letter_topic or None, args.starting_offsets, args.checkpoint,
                               args.parquet, args.trigger, args.max_offsets_per_trigger, args.idle_stop)
    cp = args.checkpoint.rstrip("/")
    state = f"{cp}-opentsdb-state" if "://" in cp else Path(cp).parent / "opentsdb-state"
    return stream.run_kafka(cfg, opts, net, extra_sinks=stream_sinks(args, cfg, state))


def stream_sinks(args: argparse.Namespace, cfg: dict, default_state: str | Path) -> list:
    """foreachBatch sinks beyond Parquet and Kafka, from the options: the OpenTSDB sink with --opentsdb."""
    if not args.opentsdb:
        return []
    from .sinks.opentsdb import OpenTsdbSink
    from .stream import models_of

    state = args.opentsdb_state or default_state
    return [OpenTsdbSink(args.opentsdb, args.pipeline, models_of(cfg), cfg["detection"]["ranges"], state,
                         batch_size=args.opentsdb_batch_size, max_retries=args.opentsdb_retries,
                         concurrency=args.opentsdb_concurrency)]


def _opentsdb_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--opentsdb", metavar="URL", default=os.environ.get("SENSORCAST_OPENTSDB"),
                   help="also write the forecasts as OpenTSDB points (sensorcast.actual, .value, .prediction, .mse, "
                   ".flag) to this TSD (default $SENSORCAST_OPENTSDB; "
                   "`make tsdb-up` starts one)")
    p.add_argument("--pipeline", default=os.environ.get("SENSORCAST_PIPELINE", "sensorcast"),
                   help="the points' pipeline tag (default $SENSORCAST_PIPELINE, else sensorcast)")
    p.add_argument("--opentsdb-batch-size", type=_positive, default=200, metavar="N", help="points per /api/put (200)")
    p.add_argument("--opentsdb-retries", type=int, default=8, metavar="N",
                   help="retries of a failed /api/put, with exponential backoff (8, about a minute)")
    p.add_argument("--opentsdb-concurrency", type=_positive, default=4, metavar="N", help="puts in flight (4)")
    p.add_argument("--opentsdb-state", metavar="DIR",
                   help="folder or URI (hdfs://) of the sink's running daily-MSE sums, which must outlive the driver "
                   "like the checkpoint (default: beside the checkpoint)")


def cmd_report(args: argparse.Namespace) -> int:
    sensors = args.sensors.split(",") if args.sensors else None
    if args.opentsdb:
        from .report_tsdb import report_from_tsdb

        path = report_from_tsdb(args.dir, args.opentsdb, args.pipeline, sensors, args.per_measure)
    else:
        from .report import write_report

        path = write_report(args.dir, sensors=sensors, per_measure=args.per_measure)
    print(f"wrote {path}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from . import synth

    spec = synth.SynthSpec(args.source, args.copies, args.days,
                           tuple(args.measures.split(",")) if args.measures else None, args.seed, args.noise,
                           args.max_shift)
    res = synth.write(spec, args.out, progress=True)
    print(f"wrote {res['sensors']:,} sensors × {len(res['measures'])} measures, {res['steps']:,} time steps, "
          f"{res['readings']:,} readings to {args.out}/ (readings.csv, locations.csv, README.md)")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sensorcast", description=__doc__, epilog=EPILOG)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("backtest", help="offline engine over a data set under a protocol", epilog=EPILOG)
    _common(p)
    p.add_argument("--protocol", default="online", choices=["online", "day-holdout", "aqi36"])
    p.add_argument("--forecasts", action="store_true", help="also write DIR/forecasts.parquet (for report)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(fn=cmd_backtest)
    p = sub.add_parser("run", help="the streaming job embedded: Spark local mode on a local data set",
                       epilog=EPILOG)
    _common(p)
    p.add_argument("--steps", type=_positive, help="only the first N time steps (a slice, for quick runs)")
    p.add_argument("--slice", choices=["day", "hour", "step"], help="replay slice per micro-batch")
    p.add_argument("--slices-per-batch", type=_positive, default=1, metavar="N",
                   help="replay slices per micro-batch (default 1)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from the checkpoint in --out (default: start afresh)")
    p.add_argument("--shards", type=_positive, help="shards of target sensors (Spark groups)")
    p.add_argument("--master", help="Spark master (default local[*]: every core)")
    p.add_argument("--no-report", action="store_true", help="skip report.html (metrics.json and forecasts only)")
    _opentsdb_args(p)
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("replay", help="produce a data set's reading records to a Kafka topic, in time order",
                       epilog="Exit codes: 0 all delivered, 1 some record not delivered, 2 bad options, "
                       "143 stopped by SIGTERM. Re-running continues after the last record in the topic.")
    _common(p, out=False)
    _kafka_args(p)
    p.add_argument("--topic", default="sensor-readings")
    p.add_argument("--dead-letter-topic", default="sensor-dead-letter", help="for bad input lines ('' for none)")
    p.add_argument("--speedup", type=_speedup, default=None, metavar="X|max",
                   help="data time per wall time (1 = real time; default max = as fast as possible)")
    p.add_argument("--batch", choices=["day", "hour"], help="send one slice at a time (flushed, then closed)")
    p.add_argument("--start", metavar="TIME", help="first time to send (ISO-8601, UTC unless an offset is given)")
    p.add_argument("--end", metavar="TIME", help="send the time steps before this time (ISO-8601)")
    p.add_argument("--partitions", type=_positive, default=2, help="partitions when the topic is created (default 2)")
    p.add_argument("--no-resume", action="store_true", help="send everything even if the topic holds a part")
    p.add_argument("--progress-every", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--delivery-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="how long a record may wait for the broker, retries included (default 300)")
    p.set_defaults(fn=cmd_replay)
    p = sub.add_parser("stream", help="the streaming job fed by Kafka: forecasts to Kafka, Parquet (, TSDB)",
                       epilog="The sensor layout (sensors, neighbours) comes from --dataset/--config, as for run. "
                       "Exit codes: 0 stopped (SIGTERM/idle), 1 the query failed, 2 bad options.")
    _common(p, out=False)
    _kafka_args(p)
    p.add_argument("--input-topic", default="sensor-readings")
    p.add_argument("--output-topic", default="sensor-forecasts", help="forecast records ('' for none)")
    p.add_argument("--dead-letter-topic", default="sensor-dead-letter", help="rejected messages ('' for none)")
    p.add_argument("--starting-offsets", default="earliest", help="earliest | latest | JSON (first start only)")
    p.add_argument("--checkpoint", default="out/stream/checkpoint", help="checkpoint URI (local dir or hdfs://)")
    p.add_argument("--parquet", help="also archive forecasts as Parquet under DIR (local or hdfs://)")
    p.add_argument("--trigger", help="micro-batch interval, e.g. '10 seconds' (default: as fast as possible)")
    p.add_argument("--max-offsets-per-trigger", type=_positive, help="cap records per micro-batch (single partition)")
    p.add_argument("--idle-stop", type=float, metavar="SECONDS",
                   help="stop (exit 0) after this long without input once data has flowed (batch-like runs)")
    p.add_argument("--shards", type=_positive, help="shards of target sensors (Spark groups)")
    p.add_argument("--master", help="Spark master (default local[*]: every core)")
    _opentsdb_args(p)
    p.set_defaults(fn=cmd_stream)
    p = sub.add_parser("synth", help="a larger network derived from a real data set (copies with noise, "
                       "time shift, offset locations; real gaps and faults kept), as long CSV + locations")
    p.add_argument("--from", dest="source", required=True, choices=["keti", "aqi36", "intel-extract"])
    p.add_argument("--copies", type=int, required=True, help="copies of every real sensor")
    p.add_argument("--days", type=float, help="only this many days, from the first UTC midnight (default: all)")
    p.add_argument("--measures", help="comma-separated measures (default: all of the data set)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.005, help="relative noise standard deviation (0.005)")
    p.add_argument("--max-shift", type=int, default=2, help="largest time shift of a copy, in time steps (2)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(fn=cmd_synth)
    p = sub.add_parser("report", help="(re)generate DIR/report.html from a run or backtest folder, or from a TSD")
    p.add_argument("dir")
    p.add_argument("--sensors", help="comma-separated sensors to plot (default: the most flagged)")
    p.add_argument("--per-measure", type=_positive, default=2, help="sensors plotted per measure (default 2)")
    p.add_argument("--opentsdb", metavar="URL", help="read the forecast rows back from this TSD instead of "
                   "DIR's Parquet (metrics to DIR/metrics-opentsdb.json)")
    p.add_argument("--pipeline", default="sensorcast", help="with --opentsdb: the pipeline tag (default sensorcast)")
    p.set_defaults(fn=cmd_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except config_mod.ConfigError as exc:
        print(f"sensorcast: configuration error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as exc:
        print(f"sensorcast: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

