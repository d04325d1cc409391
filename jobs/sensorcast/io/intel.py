"""Intel Berkeley Lab readers: the raw ``data.txt`` lines and the course's 50-sensor 30-min extract.

Raw line: ``date time epoch moteid temperature humidity light voltage`` (whitespace separated). The
real file is ordered by mote then epoch, has lines with missing trailing fields, mote ids outside
1..54, duplicate (mote, epoch) pairs and dying-battery garbage such as temperature 122.153. Garbage
values are readings (detection flags them downstream); structurally broken lines are bad lines.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .panel import BadLines, Panel, grid_from_long

MEASURES = ("temperature", "humidity", "light", "voltage")
MOTES = range(1, 55)
EXTRACT_MEASURES = {"temperature": "Temperature", "humidity": "Humidity"}
EXTRACT_START = np.datetime64("2004-03-01T00:30", "ms")  # the extract gives no dates; a fixed origin


def parse_raw_line(line: str) -> tuple[np.datetime64, int, str, list[float | None]] | str:
    """Parse one raw line into (time, epoch, mote, measures) or return the reason it is bad."""
    parts = line.split()
    if not parts:
        return "empty"
    if len(parts) < 5:
        return "missing fields"
    try:
        ts = np.datetime64(f"{parts[0]}T{parts[1]}", "ms")
    except ValueError:
        return "bad timestamp"
    try:
        epoch = int(parts[2])
        mote = int(parts[3])
    except ValueError:
        return "bad epoch or mote id"
    if mote not in MOTES:
        return "unknown sensor"
    if epoch < 0:
        return "bad epoch or mote id"
    vals: list[float | None] = []
    for tok in parts[4:8]:
        try:
            v = float(tok)
        except ValueError:
            return "non-numeric value"
        vals.append(v if math.isfinite(v) else None)
    vals += [None] * (4 - len(vals))
    if len(parts) > 8:
        return "too many fields"
    return ts, epoch, str(mote), vals


def read_raw(lines: Iterable[str], name: str = "intel-raw", bad: BadLines | None = None) -> Panel:
    """Read raw Intel Lab lines (any order) into a panel on the epoch grid."""
    bad = bad or BadLines()
    times, epochs, sensors, measures, values = [], [], [], [], []
    for no, line in enumerate(lines, 1):
        rec = parse_raw_line(line)
        if isinstance(rec, str):
            if rec != "empty":
                bad.add(no, rec, line)
            continue
        ts, epoch, mote, vals = rec
        for m, v in zip(MEASURES, vals, strict=True):
            if v is not None:
                times.append(ts)
                epochs.append(epoch)
                sensors.append(mote)
                measures.append(m)
                values.append(v)
    if not values:
        raise ValueError(f"{name}: no valid reading in the input ({bad.total} bad lines)")
    panel = grid_from_long(name, np.array(times, dtype="datetime64[ms]"), np.array(sensors),
                           np.array(measures), np.array(values, dtype=float), bad,
                           epochs=np.array(epochs, dtype=np.int64))
    order = [m for m in MEASURES if m in panel.measures]
    return panel.select(measures=order) if order != panel.measures else panel


def read_raw_file(path: str | Path) -> Panel:
    """Read ``data.txt`` or ``data.txt.gz`` as published."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", errors="replace") as fh:
        return read_raw(fh, name=path.name)


def read_extract(folder: str | Path) -> Panel:
    """Read the course extract: rows = sensors 0..49, columns = 30-min steps; train then test days.

    The extract has no dates: time steps are placed on a fixed origin (2004-03-01 00:30 UTC) 30 min
    apart, so its 5 days are 2004-03-01..05; the scored days of the day-holdout protocol are the 2
    test days (2004-03-04 and 2004-03-05), as in the course.
    """
    folder = Path(folder)
    bad = BadLines()
    grids = []
    for stem in EXTRACT_MEASURES.values():
        parts = []
        for split in ("Train", "Test"):
            path = folder / f"intel{stem}{split}.csv"
            rows = path.read_text().strip().splitlines()
            body = []
            for no, row in enumerate(rows[1:], 2):
                cells = row.split(",")
                try:
                    body.append([float(c) for c in cells[1:]])
                except ValueError:
                    bad.add(no, "non-numeric value", row)
                    body.append([math.nan] * (len(rows[0].split(",")) - 1))
            parts.append(np.array(body, dtype=float))
        grids.append(np.concatenate(parts, axis=1).T)  # (T, S)
    values = np.stack(grids, axis=-1)
    t = values.shape[0]
    times = EXTRACT_START + np.arange(t) * np.timedelta64(30, "m")
    sensors = [str(i) for i in range(values.shape[1])]
    return Panel("intel-extract", times.astype("datetime64[ms]"), np.arange(t, dtype=np.int64), sensors,
                 list(EXTRACT_MEASURES), values, bad=bad, rows=int(np.isfinite(values).sum()),
                 holdout_days=["2004-03-04", "2004-03-05"])
