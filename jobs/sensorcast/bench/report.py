"""Printing results and writing them into ``benchmarks.md``: one marked section per benchmark, so a run
with ``--only NAME`` rewrites its own section and keeps the others."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from .registry import Result, Table

HEADER = """# Benchmarks

Produced by `make bench`, i.e. `.venv/bin/python -m sensorcast.bench --out docs`; every ratio compares
runs made in the same process, one after the other, on the same input. Each section below is rewritten
by its own benchmark (`python -m sensorcast.bench --list` names them; `--only NAME` runs one and leaves
the other sections as they are). Performance is measured here, never asserted in timed tests.
"""


def log(name: str, msg: str) -> None:
    """A progress line on stderr."""
    print(f"[{dt.datetime.now():%H:%M:%S}] {name}: {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    """What the numbers were measured on (the CPU model from /proc/cpuinfo)."""
    cpu = "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    load = "/".join(f"{v:.2f}" for v in os.getloadavg())
    import numpy

    return {"code": code_version(), "cores": str(os.cpu_count()), "cpu": cpu, "memory": mem,
            "load average (1/5/15 min) at start": f"{load} (the machine is shared)",
            "python": platform.python_version(), "numpy": numpy.__version__, "os": platform.platform()}


def code_version() -> str:
    """The commit the benchmarked code is at, and whether ``jobs/`` has uncommitted changes."""
    root = Path(__file__).resolve().parents[3]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "jobs"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {sha}" + (" + uncommitted changes in jobs/" if dirty else " (jobs/ clean)")


def command() -> str:
    """The command that produced the results (``make bench`` when run through make)."""
    argv = " ".join(sys.argv[1:])
    direct = f"python -m sensorcast.bench {argv}".strip()
    return f"make bench  # {direct}" if os.environ.get("MAKELEVEL") else direct


def text_table(t: Table) -> str:
    widths = [max(len(c), *(len(r[i]) for r in t.rows)) for i, c in enumerate(t.columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(t.columns, widths, strict=True))
    rows = ["  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
            for r in t.rows]
    return "\n".join([t.caption, line, "  ".join("-" * w for w in widths), *rows])


def print_result(res: Result) -> None:
    print(f"\n== {res.name}: {res.title}")
    for t in res.tables:
        print()
        print(text_table(t))
    if res.checks:
        print()
    for c in res.checks:
        print(f"  {'met   ' if c.ok else 'MISSED'}  {c.what}: {c.value:,.4g}{c.unit} (target {c.target})")
    for n in res.notes:
        print(f"  note: {n}")
    sys.stdout.flush()


def md_table(t: Table) -> str:
    head = "| " + " | ".join(t.columns) + " |"
    sep = "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(t.columns))) + " |"
    return "\n".join([f"**{t.caption}**", "", head, sep, *("| " + " | ".join(r) + " |" for r in t.rows)])


def md_section(res: Result, meta: dict[str, str], when: str, cmd: str) -> str:
    parts = [f"<!-- bench:{res.name} -->", f"## `{res.name}` — {res.title}", "",
             f"- date: {when}", f"- command: `{cmd}`"]
    parts += [f"- {k}: {v}" for k, v in meta.items()]
    parts.append("")
    for t in res.tables:
        parts += [md_table(t), ""]
    if res.checks:
        parts += ["**Targets**", ""]
        parts += [f"- {'met' if c.ok else '**missed**'}: {c.what} = {c.value:,.4g}{c.unit} (target {c.target})"
                  for c in res.checks]
        parts.append("")
    for f in res.figures:
        parts += [f"![{res.name}]({f})", ""]
    if res.notes:
        parts += ["**Notes**", ""] + [f"- {n}" for n in res.notes] + [""]
    parts.append(f"<!-- /bench:{res.name} -->")
    return "\n".join(parts)


def write_section(md: Path, res: Result, meta: dict[str, str], when: str, cmd: str) -> None:
    """Replace (or append) the result's section of ``md``, keeping every other section."""
    text = md.read_text() if md.exists() else HEADER
    section = md_section(res, meta, when, cmd)
    pat = re.compile(rf"<!-- bench:{re.escape(res.name)} -->.*?<!-- /bench:{re.escape(res.name)} -->", re.S)
    if pat.search(text):
        text = pat.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    md.parent.mkdir(parents=True, exist_ok=True)
    md.write_text(text.rstrip("\n") + "\n")


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
