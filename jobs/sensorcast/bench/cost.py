"""What a block of work costs: wall time, CPU time (this process and its child processes) and peak memory.

Why CPU time: the benchmark machine is shared, so wall time also counts the time spent waiting for a core;
CPU time does not, which makes it the figure to compare across sizes. The embedded Spark job runs in a JVM
child process (and Python workers under it), so their CPU and resident memory are read from ``/proc`` for
the whole process tree below this one, next to this process's own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .memory import PAGE

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, int, str] | None:
    """(parent pid, CPU seconds incl. reaped children, RSS bytes, command name) of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) "
    ppid = int(fields[1])
    cpu = sum(int(f) for f in fields[11:15]) / TICK  # utime stime cutime cstime
    return ppid, cpu, int(fields[21]) * PAGE, comm


def descendants() -> dict[int, tuple[float, int, str]]:
    """CPU seconds, RSS bytes and command name of every live process below this one."""
    stats = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                stats[int(entry.name)] = st
    me, out, frontier = os.getpid(), {}, [os.getpid()]
    children: dict[int, list[int]] = {}
    for pid, (ppid, *_) in stats.items():
        children.setdefault(ppid, []).append(pid)
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child != me:
                out[child] = stats[child][1:]
                frontier.append(child)
    return out


def self_rss() -> int:
    st = _stat(os.getpid())
    return st[2] if st else 0


@dataclass
class Cost:
    """Wall and CPU seconds of a block; ``children_cpu_s``: CPU of the processes below this one (Spark's JVM
    and its Python workers); peak RSS of this process and of the whole tree (sampled)."""

    wall_s: float
    cpu_s: float
    children_cpu_s: float
    rss_start: int
    rss_peak: int
    tree_rss_peak: int
    children_by_name: dict[str, float] = field(default_factory=dict)  # CPU s per command name (java, python3…)

    @property
    def total_cpu_s(self) -> float:
        return self.cpu_s + self.children_cpu_s


class _Sampler:
    """Samples this process's RSS and the whole tree's RSS in a thread (the tree every ``tree_every`` s)."""

    def __init__(self, every: float = 0.01, tree_every: float | None = None) -> None:
        self.every, self.tree_every = every, tree_every
        self.peak = self.tree_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self, tree: bool) -> None:
        own = self_rss()
        self.peak = max(self.peak, own)
        if tree:
            self.tree_peak = max(self.tree_peak, own + sum(r for _, r, _ in descendants().values()))

    def _loop(self) -> None:
        last = 0.0
        while not self._stop.wait(self.every):
            now = time.monotonic()
            tree = self.tree_every is not None and now - last >= self.tree_every
            self.sample(tree)
            last = now if tree else last

    def __enter__(self) -> _Sampler:
        self.sample(self.tree_every is not None)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample(self.tree_every is not None)


def measure(fn: Callable[[], Any], children: bool = False) -> tuple[Cost, Any]:
    """Run ``fn``; its :class:`Cost` and result. ``children``: also the CPU and RSS of the process tree below
    (CPU of child processes that both started and ended inside the block is lost with them)."""
    before = descendants() if children else {}
    rss0 = self_rss()
    with _Sampler(tree_every=0.5 if children else None) as s:
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    by_name: dict[str, float] = {}
    if children:
        for pid, (c, _, name) in descendants().items():
            by_name[name] = by_name.get(name, 0.0) + c - (before[pid][0] if pid in before else 0.0)
    kids = sum(by_name.values())
    return Cost(wall, cpu, max(kids, 0.0), rss0, s.peak, max(s.tree_peak, s.peak), by_name), out
