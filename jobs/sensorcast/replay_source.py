"""A replayable Spark streaming source over a local data set (Spark 4 Python Data Source API).

Offsets are slice numbers (UTC days, hours or single time steps), so a restarted query re-reads
exactly the slices of its unfinished batch, as it would re-read Kafka offsets. Each micro-batch holds
``slicesPerBatch`` slices of reading records (design §3, with ticks) as ``key``/``value`` strings, ended by a
close tick: a batch holds whole time steps, so the stream forecasts all of them in that batch.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader

from .io import datasets
from .records import panel_records, slice_bounds


class ReplayDataSource(DataSource):
    """``spark.readStream.format("sensorcast-replay").option("dataset", "keti")...``"""

    @classmethod
    def name(cls) -> str:
        return "sensorcast-replay"

    def schema(self) -> str:
        return "key STRING, value STRING"

    def simpleStreamReader(self, schema) -> SimpleDataSourceStreamReader:
        return ReplayReader(self.options)


class ReplayReader(SimpleDataSourceStreamReader):
    """Reads slices [start, start + slicesPerBatch) per call; runs in the driver's Python worker."""

    def __init__(self, options: dict) -> None:
        measures = options.get("measures")
        panel = datasets.load(options["dataset"], options.get("format") or None,
                              options.get("locations") or None)
        if measures:
            panel = panel.select(measures=measures.split(","))
        stop = options.get("steps")
        if stop:
            panel = panel.select(stop=int(stop))
        self.panel = panel
        self.bounds = slice_bounds(panel, options.get("slice", "day"))
        self.per_batch = int(options.get("slicesPerBatch", "1"))

    @property
    def total(self) -> int:
        return len(self.bounds) - 1

    def initialOffset(self) -> dict:
        return {"slice": 0}

    def _rows(self, a: int, b: int) -> Iterator[tuple[str, str]]:
        return panel_records(self.panel, int(self.bounds[a]), int(self.bounds[b]), close=True)

    def read(self, start: dict) -> tuple[Iterator[tuple], dict]:
        a = int(start["slice"])
        b = min(a + self.per_batch, self.total)
        return (iter(list(self._rows(a, b))) if b > a else iter([])), {"slice": b}

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator[tuple]:
        return iter(list(self._rows(int(start["slice"]), int(end["slice"]))))

    def commit(self, end: dict) -> None:
        """Nothing to release: the data set is local and immutable."""
