"""``python -m sensorcast.bench [--only NAME] [--set NAME.PARAM=VALUE] --out DIR``: run the registered
benchmarks in this process, print their tables, and write their sections of ``DIR/benchmarks.md``."""

from __future__ import annotations

import argparse
import inspect
import os
import sys
from pathlib import Path

import yaml

from . import load_all
from .report import command, log, machine, now, print_result, write_section


def parse_sets(items: list[str], names: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        name, dot, param = key.partition(".")
        if not sep or not dot or name not in names:
            raise SystemExit(f"--set {item!r}: expected NAME.PARAM=VALUE with NAME one of {', '.join(names)}")
        out.setdefault(name, {})[param] = yaml.safe_load(raw)
    return out


def main(argv: list[str] | None = None) -> int:
    registry = load_all()
    ap = argparse.ArgumentParser(prog="python -m sensorcast.bench", description=__doc__)
    ap.add_argument("--out", default="docs", help="folder of benchmarks.md and the figures (default docs)")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only these benchmarks (repeat or comma-separate); see --list")
    ap.add_argument("--set", action="append", default=[], metavar="NAME.PARAM=VALUE", dest="sets",
                    help="a benchmark parameter, e.g. model-bank.record_steps=500")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and their parameters")
    args = ap.parse_args(argv)
    if args.list:
        for b in registry.values():
            params = [f"{p.name}={p.default!r}" for p in inspect.signature(b.fn).parameters.values()
                      if p.name not in ("out", "panel")]
            print(f"{b.name}: {b.summary}\n    {' '.join(params)}")
        return 0
    only = [n.strip() for o in args.only for n in o.split(",") if n.strip()]
    unknown = [n for n in only if n not in registry]
    if unknown:
        ap.error(f"--only: unknown {unknown}; known: {', '.join(registry)}")
    sets = parse_sets(args.sets, list(registry))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta, when, cmd = machine(), now(), command()
    log("bench", f"{meta['cores']} cores, {meta['cpu']}; load {meta['load average (1/5/15 min) at start']}")
    for name in only or list(registry):
        log("bench", f"running {name}")
        res = registry[name].fn(out, **sets.get(name, {}))
        print_result(res)
        after = {"load average (1/5/15 min) at its end": "/".join(f"{v:.2f}" for v in os.getloadavg())}
        write_section(out / "benchmarks.md", res, meta | after, when, cmd)
        log("bench", f"wrote {out / 'benchmarks.md'} § {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
