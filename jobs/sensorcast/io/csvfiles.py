"""Generic CSV readers: long (``timestamp,sensor,measure,value``) and wide (a column per sensor).

Timestamps are ISO-8601, UTC unless an offset is given. A bad line never stops a read: it is counted
and reported with its line number.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .panel import BadLines, Panel, grid_from_long


def parse_time(text: str) -> np.datetime64:
    """ISO-8601 (or ``YYYY/MM/DD HH:MM:SS``) to UTC ms; naive times are taken as UTC. Empty text, and anything
    pandas only guesses at with a warning (e.g. an unknown zone name), raise ValueError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            ts = pd.Timestamp(text.strip().replace("/", "-"))
        except Warning as w:
            raise ValueError(f"ambiguous time {text!r}: {w}") from None
    if ts is pd.NaT:
        raise ValueError(f"no time in {text!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return np.datetime64(ts.to_datetime64(), "ms")


def _value(text: str) -> float:
    """A cell's number; empty cells are missing (NaN); non-numbers raise ValueError."""
    text = text.strip()
    if text == "" or text.lower() in ("nan", "na", "null"):
        return math.nan
    v = float(text)
    if not math.isfinite(v):
        raise ValueError("non-finite")
    return v


def csv_rows(lines: Iterable[str], first_no: int = 2) -> Iterator[tuple[int, str, list[str] | None]]:
    """(line number, line, fields) per line, each line parsed on its own: a stray quote spoils only its line
    (fields None) instead of swallowing the lines after it."""
    for no, line in enumerate(lines, first_no):
        try:
            yield no, line, next(csv.reader([line.rstrip("\r\n")], strict=True), [])
        except csv.Error:
            yield no, line, None


def read_long(path: str | Path, name: str | None = None) -> Panel:
    """Read a long CSV with header ``timestamp,sensor,measure,value``."""
    path = Path(path)
    bad = BadLines()
    times, sensors, measures, values = [], [], [], []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = [h.strip().lower() for h in next(csv.reader([fh.readline()]), [])]
        if header[:4] != ["timestamp", "sensor", "measure", "value"]:
            raise ValueError(f"{path}: long CSV needs the header timestamp,sensor,measure,value; got {header}")
        for no, line, row in csv_rows(fh):
            if row is None:
                bad.add(no, "malformed line", line)
                continue
            if not row:
                continue  # a blank line
            if len(row) != 4:
                bad.add(no, "missing fields" if len(row) < 4 else "too many fields", ",".join(row))
                continue
            try:
                ts = parse_time(row[0])
            except (ValueError, OverflowError):
                bad.add(no, "bad timestamp", ",".join(row))
                continue
            try:
                v = _value(row[3])
            except ValueError:
                bad.add(no, "non-numeric value", ",".join(row))
                continue
            if not row[1].strip() or not row[2].strip():
                bad.add(no, "missing fields", ",".join(row))
                continue
            if math.isnan(v):
                continue
            times.append(ts)
            sensors.append(row[1].strip())
            measures.append(row[2].strip())
            values.append(v)
    if not values:
        raise ValueError(f"{path}: no valid reading ({bad.total} bad lines)")
    return grid_from_long(name or path.stem, np.array(times, dtype="datetime64[ms]"), np.array(sensors),
                          np.array(measures), np.array(values, dtype=float), bad)


def read_wide(paths: dict[str, Path], name: str) -> Panel:
    """Read wide CSVs, one file per measure: first column the timestamp, then one column per sensor.

    Every row is a time step (also one where no sensor reported), as on a regular grid.
    """
    bad = BadLines()
    frames: dict[str, pd.DataFrame] = {}
    for measure, path in paths.items():
        rows, index = [], []
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader([fh.readline()]), [])
            if len(header) < 2:
                raise ValueError(f"{path}: a wide CSV needs a header: timestamp, then one column per sensor")
            sensors = [h.strip() for h in header[1:]]
            for no, line, row in csv_rows(fh):
                if row is None:
                    bad.add(no, "malformed line", line)
                    continue
                if not row:
                    continue
                if len(row) != len(header):
                    bad.add(no, "wrong field count", ",".join(row))
                    continue
                try:
                    ts = parse_time(row[0])
                except (ValueError, OverflowError):
                    bad.add(no, "bad timestamp", ",".join(row))
                    continue
                vals = []
                for cell in row[1:]:
                    try:
                        vals.append(_value(cell))
                    except ValueError:
                        bad.add(no, "non-numeric value", ",".join(row))
                        vals.append(math.nan)
                index.append(ts)
                rows.append(vals)
        if not rows:
            raise ValueError(f"{path}: no valid row ({bad.total} bad lines so far)")
        frame = pd.DataFrame(rows, index=pd.DatetimeIndex(index), columns=sensors)
        frames[measure] = frame[~frame.index.duplicated()]
    all_times = sorted(set().union(*(f.index for f in frames.values())))
    sensors = list(dict.fromkeys(s for f in frames.values() for s in f.columns))
    values = np.stack([f.reindex(index=all_times, columns=sensors).to_numpy(float)
                       for f in frames.values()], axis=-1)
    times = np.array(all_times, dtype="datetime64[ms]")
    return Panel(name, times, np.arange(len(times), dtype=np.int64), sensors, list(frames), values,
                 bad=bad, rows=int(np.isfinite(values).sum()))
