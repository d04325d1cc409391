"""Reading and forecast records (design §3): JSON on Kafka, rows in Spark, dicts here.

Besides one reading per sensor and time step, a replay emits one *tick* per time step
(``sensor = "*"``, no measures): it tells every shard that the network reported at that epoch, so a
sensor silent at a step where others reported is filled as missing, in Spark exactly as offline.
A tick with ``"close": true`` also says that every time step up to its epoch is complete: the stream
forecasts them at once instead of waiting out the allowed lateness (a replay sends one after each
slice it has flushed, and one at the end of the data set).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np

from .io.panel import Panel

TICK = "*"


def iso_ms(t: np.datetime64) -> str:
    """UTC ISO-8601 with milliseconds and a Z."""
    return np.datetime_as_string(t.astype("datetime64[ms]"), unit="ms") + "Z"


def tick(ts: str, epoch: int, close: bool = False) -> str:
    """JSON of a tick record (a close tick: every time step up to ``epoch`` is complete)."""
    rec = {"ts": ts, "epoch": epoch, "sensor": TICK, "measures": {}}
    if close:
        rec["close"] = True
    return json.dumps(rec)


def panel_records(panel: Panel, start: int, stop: int, ticks: bool = True,
                  close: bool = False) -> Iterator[tuple[str, str]]:
    """(key, JSON value) of every reading of time steps [start, stop), in time order, ticks first;
    with ``close``, a close tick after the last step."""
    measures = panel.measures
    stop = min(stop, len(panel.times))
    for t in range(start, stop):
        ts, epoch = iso_ms(panel.times[t]), int(panel.epochs[t])
        if ticks:
            yield TICK, tick(ts, epoch)
        row = panel.values[t]
        present = np.flatnonzero(np.isfinite(row).any(axis=1))
        for s in present:
            vals = {m: (None if math.isnan(v) else float(v)) for m, v in zip(measures, row[s], strict=True)}
            sensor = panel.sensors[s]
            yield sensor, json.dumps({"ts": ts, "epoch": epoch, "sensor": sensor, "measures": vals})
    if close and stop > start:
        yield TICK, tick(iso_ms(panel.times[stop - 1]), int(panel.epochs[stop - 1]), close=True)


def bad_line_record(source: str, line_no: int, reason: str, text: str) -> str:
    """JSON of a dead-letter record for an input line a reader rejected (the replay's quarantine)."""
    return json.dumps({"stage": "replay", "source": source, "line": line_no, "reason": reason, "raw": text})


def slice_bounds(panel: Panel, slice_by: str) -> np.ndarray:
    """Start indices of the replay slices (one per UTC day, hour, or time step) plus the end."""
    if slice_by == "step":
        return np.arange(len(panel.times) + 1)
    unit = {"day": "D", "hour": "h"}[slice_by]
    keys = panel.times.astype(f"datetime64[{unit}]")
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return np.r_[starts, len(panel.times)]
