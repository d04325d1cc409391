"""KETI (Sutardja Dai Hall) per-room folder: ``<room>.csv[.gz]`` with timestamp + 5 measures.

Room numbers carry the layout: floor = room // 100, position along the floor = room % 100. That is the
only location information the data set has, so :func:`room_locations` derives planar coordinates from it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .panel import BadLines, Panel

MEASURES = ("co2", "humidity", "light", "pir", "temperature")
FLOOR_GAP = 25.0  # distance units between floors (room numbers along a corridor are ~1 unit apart)


def room_locations(rooms: list[str], floor_gap: float = FLOOR_GAP) -> dict[str, tuple[float, float]]:
    """Planar (x, y) per room: x = room number within the floor, y = floor × ``floor_gap``."""
    out = {}
    for r in rooms:
        n = int(r)
        out[r] = (float(n % 100), float(n // 100) * floor_gap)
    return out


def read_folder(folder: str | Path, name: str = "keti", rooms: list[str] | None = None) -> Panel:
    """Read every ``<room>.csv`` / ``<room>.csv.gz`` of the folder onto one minute grid (distinct times)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.name.endswith((".csv", ".csv.gz")))
    if rooms is not None:
        files = [p for p in files if p.name.split(".")[0] in rooms]
    if not files:
        raise ValueError(f"{folder}: no <room>.csv files")
    bad = BadLines()
    frames = []
    for path in files:
        room = path.name.split(".")[0]
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = [m for m in ("timestamp", *MEASURES) if m not in raw.columns]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}")
        ts = pd.to_datetime(raw["timestamp"], errors="coerce", utc=True).dt.tz_localize(None)
        nums = raw[list(MEASURES)].apply(pd.to_numeric, errors="coerce")
        broken = nums.isna() & (raw[list(MEASURES)] != "")
        bad_rows = ts.isna() | broken.any(axis=1)
        for i in np.flatnonzero(bad_rows.to_numpy()):
            reason = "bad timestamp" if pd.isna(ts.iloc[i]) else "non-numeric value"
            bad.add(int(i) + 2, reason, f"{path.name}: " + ",".join(raw.iloc[i].tolist()))
        good = ~bad_rows
        frame = nums[good].copy()
        frame.index = pd.MultiIndex.from_arrays([ts[good], np.full(int(good.sum()), room)],
                                                names=["time", "room"])
        dup = frame.index.duplicated()
        for _ in range(int(dup.sum())):
            bad.add(-1, "duplicate", f"{path.name}: duplicate timestamp")
        frames.append(frame[~dup])
    long = pd.concat(frames)
    rooms_found = [p.name.split(".")[0] for p in files]
    cube = long.unstack("room").sort_index()
    times = cube.index.to_numpy().astype("datetime64[ms]")
    values = np.stack([cube[m].reindex(columns=rooms_found).to_numpy(float) for m in MEASURES], axis=-1)
    t0 = times[0]
    epochs = ((times - t0) // np.timedelta64(1, "m")).astype(np.int64)
    return Panel(name, times, epochs, rooms_found, list(MEASURES), values,
                 locations=room_locations(rooms_found), bad=bad, rows=int(np.isfinite(values).sum()))
