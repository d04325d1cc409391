"""``python -m sensorcast.bench``: named benchmarks, run in one process, reported as ratios to baselines.

Each benchmark is a function registered under a name with :func:`register`; it returns a :class:`Result`
(tables, target checks, figures, notes) that :mod:`sensorcast.bench.report` prints and writes into its
own section of ``docs/benchmarks.md``. Later benchmarks (Kafka, Spark, scaling) add a module here and
register themselves; ``--only NAME`` runs a subset without touching the other sections.
"""

from .registry import BENCHMARKS, Check, Result, Table, register

__all__ = ["BENCHMARKS", "Check", "Result", "Table", "register", "load_all"]


def load_all() -> dict:
    """Import the benchmark modules (each registers itself) and return the registry."""
    from . import (  # noqa: F401  (registration side effect)
        backtest_keti,
        kafka_e2e,
        kafka_scaling,
        model_bank,
        opentsdb_sink,
        scaling,
    )

    return dict(sorted(BENCHMARKS.items(), key=lambda kv: kv[1].order))
