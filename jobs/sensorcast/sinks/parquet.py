"""Parquet sink: each micro-batch to ``DIR/<kind>/batch_id=N``, overwritten when a batch is re-run after a
restart, so the archive neither loses nor duplicates rows (local dir, or ``hdfs://`` in the cluster)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class ParquetSink:
    def __init__(self, out_dir: str, progress: bool = True) -> None:
        self.out_dir = str(out_dir).rstrip("/")
        self.progress = progress
        self._fan = None

    def write(self, batch_df, batch_id: int, counts: dict[str, int]) -> None:
        from pyspark.sql import functions as F

        fc = batch_df.filter(F.col("kind") == "forecast").drop("kind", "reason", "raw")
        fc.write.mode("overwrite").parquet(f"{self.out_dir}/forecasts/batch_id={batch_id}")
        if counts.get("dead-letter"):
            dl = batch_df.filter(F.col("kind") == "dead-letter").select(
                "ts", "epoch", "sensor", "measure", "actual", "reason", "raw")
            dl.write.mode("overwrite").parquet(f"{self.out_dir}/dead-letter/batch_id={batch_id}")
            log.warning("batch %d: %d dead-letter rows", batch_id, counts["dead-letter"])

    def __call__(self, batch_df, batch_id: int) -> None:
        """Usable alone as the ``foreachBatch`` function (``sensorcast run``)."""
        from . import FanOut

        if self._fan is None:
            self._fan = FanOut([self], self.progress)
        self._fan(batch_df, batch_id)
