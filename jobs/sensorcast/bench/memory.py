"""Memory probes: Python-heap peak of a block (tracemalloc, numpy included) and process peak RSS."""

from __future__ import annotations

import os
import resource
import threading
import tracemalloc
from collections.abc import Callable
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")


def traced_peak(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    """Run ``fn`` under tracemalloc; return (peak bytes above the start, bytes still held at the end, result).

    tracemalloc slows allocation-heavy Python a lot, so call this on a short run, apart from timing.
    """
    was = tracemalloc.is_tracing()
    if not was:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        out = fn()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        if not was:
            tracemalloc.stop()
    return peak - base, held - base, out


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def max_rss_bytes() -> int:
    """High-water RSS of this process since it started (getrusage)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class RSSSampler:
    """Samples RSS in a thread while a block runs: ``with RSSSampler() as s: …; s.peak, s.start``."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RSSSampler:
        self.start = self.peak = rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
