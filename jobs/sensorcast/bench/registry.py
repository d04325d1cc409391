"""The benchmark registry and the result shapes every benchmark returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    """One table of a result: a caption, column names and rows of already formatted cells."""

    caption: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Check:
    """A target: what is measured, the measured value, the target, and whether it is met."""

    what: str
    value: float
    target: str
    ok: bool
    unit: str = ""


@dataclass
class Result:
    """What one benchmark produced; ``data`` keeps the raw numbers for tests and later tooling."""

    name: str
    title: str
    tables: list[Table] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # file names, written next to benchmarks.md
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Benchmark:
    name: str
    summary: str
    fn: Callable[..., Result]
    order: int = 100


BENCHMARKS: dict[str, Benchmark] = {}


def register(name: str, summary: str, order: int = 100) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Decorator: ``@register("model-bank", "…")`` on ``def run(out: Path, **params) -> Result``.

    ``order`` places the benchmark in a full run and on the docs page (lower first).
    """

    def deco(fn: Callable[..., Result]) -> Callable[..., Result]:
        if name in BENCHMARKS:
            raise ValueError(f"benchmark {name!r} registered twice")
        BENCHMARKS[name] = Benchmark(name, summary, fn, order)
        return fn

    return deco
