"""``sensorcast`` command line: backtest (offline engine), run (the embedded streaming job), report."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import config as config_mod

EPILOG = "Model names: persistence, ema, ar-rls, spatial-rls, ensemble. Example: --set ar-rls.order=5"


def _common(p: argparse.ArgumentParser) -> None:
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
    run.run(cfg, args.out, steps=args.steps, slices_per_batch=args.slices_per_batch,
            report=not args.no_report)
    print(f"wrote {Path(args.out) / 'metrics.json'} and {Path(args.out) / 'report.html'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    path = write_report(args.dir, sensors=args.sensors.split(",") if args.sensors else None,
                        per_measure=args.per_measure)
    print(f"wrote {path}")
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
    p.add_argument("--steps", type=int, help="only the first N time steps (a slice, for quick runs)")
    p.add_argument("--slice", choices=["day", "hour", "step"], help="replay slice per micro-batch")
    p.add_argument("--slices-per-batch", type=int, default=1)
    p.add_argument("--shards", type=int, help="shards of target sensors (Spark groups)")
    p.add_argument("--master", help="Spark master (default local[*]: every core)")
    p.add_argument("--no-report", action="store_true")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("report", help="(re)generate DIR/report.html from a run or backtest folder")
    p.add_argument("dir")
    p.add_argument("--sensors", help="comma-separated sensors to plot (default: the most flagged)")
    p.add_argument("--per-measure", type=int, default=2, help="sensors plotted per measure (default 2)")
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

