"""foreachBatch sinks of the streaming job: Parquet, Kafka, and (next) OpenTSDB, fanned out per micro-batch.

A sink is an object with ``write(batch_df, batch_id, counts)``; ``FanOut`` persists each micro-batch once,
counts its rows per kind and reason, and hands it to every sink in order, so adding a sink (the TSDB one)
is appending to the list. Every sink must tolerate a re-run of the same ``batch_id`` after a restart.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Protocol


class BatchSink(Protocol):
    def write(self, batch_df, batch_id: int, counts: dict[str, int]) -> None: ...


class FanOut:
    """The ``foreachBatch`` function: one persisted micro-batch to each sink; running counts; progress lines."""

    def __init__(self, sinks: Sequence[BatchSink], progress: bool = True) -> None:
        self.sinks = list(sinks)
        self.progress = progress
        self.t0 = time.time()
        self.batches = 0
        self.rows = 0
        self.dead = Counter()
        self.last_input_at = 0.0  # wall time of the last batch that had rows
        self.last_batch_at = 0.0

    def __call__(self, batch_df, batch_id: int) -> None:
        batch_df.persist()
        try:
            kinds: Counter = Counter()
            reasons: Counter = Counter()
            for kind, reason, n in batch_df.groupBy("kind", "reason").count().collect():
                kinds[kind] += n
                if kind == "dead-letter":
                    reasons[reason] += n
            for sink in self.sinks:
                sink.write(batch_df, batch_id, dict(kinds))
        finally:
            batch_df.unpersist()
        n, n_dead = kinds.get("forecast", 0), kinds.get("dead-letter", 0)
        self.batches += 1
        self.rows += n
        self.dead.update(reasons)
        self.last_batch_at = time.time()
        if n or n_dead:
            self.last_input_at = self.last_batch_at
        if self.progress:
            why = f" {dict(sorted(reasons.items()))}" if reasons else ""
            print(f"  batch {batch_id}: {n:,} forecast rows, {n_dead} dead-letter{why} "
                  f"({self.rows:,} rows in {time.time() - self.t0:.0f} s)", file=sys.stderr, flush=True)

    def summary(self) -> dict:
        return {"batches": self.batches, "forecast_rows": self.rows, "seconds": round(time.time() - self.t0, 1),
                "last_output": round(self.last_input_at, 3),
                "dead_letter": ",".join(f"{k.replace(' ', '-')}:{v}" for k, v in sorted(self.dead.items())) or "none"}
