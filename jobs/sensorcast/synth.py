"""``sensorcast synth``: a larger sensor network derived from a real one, for scaling measurements.

What: ``copies`` copies of every sensor of a bundled data set (keti, aqi36, intel-extract). Copy c of sensor s
is named ``c<c>-<s>`` and gets

* the real series of s, shifted later in time by a whole number of grid steps (0..``max_shift``, one draw
  per copy, so the copies of a network do not report in lock-step but stay on the data set's time grid);
* small multiplicative noise, ``value · (1 + ε)`` with ε ~ N(0, ``noise``) cut at ±3σ, on in-range
  readings only, kept inside the hard range: zeros stay zeros (light at night, pir), and no reading
  turns faulty or stops being faulty;
* the real gaps (missing readings are still missing, shifted with the series) and the real faulty
  readings (values outside the hard range are copied unchanged);
* the real location offset to the copy's own tile: copies are laid out on a square grid of tiles one
  layout-extent apart, so a sensor's nearest neighbours are its own copy's counterparts of the real
  neighbours (neighbour models see the real spatial structure, not a mix of copies).

Why: the issue asks what the system costs for a building or a city instead of one lab (54 → 54,000
sensors); there is no open data set that large with the same gaps and faults, so the real ones are
replicated. Everything is deterministic in ``seed`` (copy c draws from ``default_rng([seed, c])``, so a
copy's data does not depend on how many copies are made), and the writer streams one copy at a time, so
the output size, not the memory, grows with ``copies``.

Output folder: ``readings.csv`` (long CSV ``timestamp,sensor,measure,value``, one copy after the other),
``locations.csv`` (``sensor,x,y``, planar) and ``README.md`` (what it is derived from, how, and the command).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import config as config_mod
from .io import datasets
from .io.panel import Panel
from .records import iso_ms

SOURCES = ("keti", "aqi36", "intel-extract")
EARTH_KM = 6371.0


@dataclass(frozen=True)
class SynthSpec:
    """How to derive the network: source, number of copies, time window and the perturbation."""

    source: str
    copies: int
    days: float | None = None  # None: the whole data set; else this many days from its first UTC midnight
    measures: tuple[str, ...] | None = None
    seed: int = 0
    noise: float = 0.005  # relative standard deviation of the multiplicative noise
    max_shift: int = 2  # largest time shift, in grid steps
    ranges: dict = field(default_factory=lambda: config_mod.DEFAULTS["detection"]["ranges"])

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"--from must be one of {', '.join(SOURCES)}; got {self.source!r}")
        if self.copies < 1:
            raise ValueError(f"--copies must be >= 1; got {self.copies}")
        if self.days is not None and self.days <= 0:
            raise ValueError(f"--days must be > 0; got {self.days}")
        if not 0 <= self.noise < 0.2:
            raise ValueError(f"--noise must be in [0, 0.2); got {self.noise}")
        if self.max_shift < 0:
            raise ValueError(f"--max-shift must be >= 0; got {self.max_shift}")


def window(panel: Panel, days: float | None) -> Panel:
    """``days`` days of the panel from its first UTC midnight (from its start if that leaves less)."""
    if days is None:
        return panel
    first_day = panel.times[0].astype("datetime64[D]")
    midnight = first_day.astype("datetime64[ms]")
    start_t = midnight if panel.times[0] == midnight else (first_day + 1).astype("datetime64[ms]")
    span = np.timedelta64(int(round(days * 86_400_000)), "ms")
    if start_t + span > panel.times[-1]:
        start_t = panel.times[0]
    a = int(np.searchsorted(panel.times, start_t, side="left"))
    b = int(np.searchsorted(panel.times, start_t + span, side="left"))
    return panel.select(start=a, stop=b)


def source_panel(spec: SynthSpec) -> Panel:
    """The real data set, its measures and its time window as the spec asks."""
    panel = datasets.load(spec.source)
    if spec.measures:
        missing = [m for m in spec.measures if m not in panel.measures]
        if missing:
            raise ValueError(f"--measures: {missing} not in {spec.source} (it has {', '.join(panel.measures)})")
        panel = panel.select(measures=list(spec.measures))
    return window(panel, spec.days)


def planar_layout(panel: Panel) -> tuple[np.ndarray, str]:
    """Planar (x, y) per sensor and how it was obtained: the data set's own layout; latitude/longitude
    projected to km (equirectangular about the centre); or, without any layout, a circle of unit spacing."""
    sensors = panel.sensors
    if panel.locations is not None and all(s in panel.locations for s in sensors):
        pts = np.array([panel.locations[s] for s in sensors], dtype=float)
        if not panel.geo:
            return pts, "the data set's own planar layout"
        lat0 = math.radians(float(pts[:, 0].mean()))
        y = EARTH_KM * np.radians(pts[:, 0] - pts[:, 0].mean())
        x = EARTH_KM * np.radians(pts[:, 1] - pts[:, 1].mean()) * math.cos(lat0)
        return np.stack([x, y], axis=1), "latitude/longitude projected to km (equirectangular about the centre)"
    n = len(sensors)
    ang = 2 * np.pi * np.arange(n) / n
    r = n / (2 * np.pi)
    return (np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1),
            "none in the source: sensors on a circle of unit spacing (positions carry no information; "
            "they only keep copies apart)")


def tile_offsets(points: np.ndarray, copies: int) -> np.ndarray:
    """(copies, 2) offsets: a square grid of tiles, the layout's extent plus as much again between tiles."""
    extent = np.ptp(points, axis=0)
    pitch = extent + max(float(extent.max()), 1.0)
    cols = math.ceil(math.sqrt(copies))
    c = np.arange(copies)
    return np.stack([(c % cols) * pitch[0], (c // cols) * pitch[1]], axis=1)


def copy_names(sensors: list[str], c: int, copies: int) -> list[str]:
    width = max(4, len(str(copies - 1)))
    return [f"c{c:0{width}d}-{s}" for s in sensors]


def hard_ranges(measures: list[str], ranges: dict) -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([float(ranges.get(m, [-np.inf, np.inf])[0]) for m in measures])
    hi = np.array([float(ranges.get(m, [-np.inf, np.inf])[1]) for m in measures])
    return lo, hi


def derive_copy(values: np.ndarray, c: int, spec: SynthSpec, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, int]:
    """Copy c of the (T, S, M) values: (its values, its shift in steps)."""
    rng = np.random.default_rng([spec.seed, c])
    shift = int(rng.integers(0, spec.max_shift + 1))
    out = np.full_like(values, np.nan)
    out[shift:] = values[: len(values) - shift]
    eps = np.clip(rng.standard_normal(out.shape), -3.0, 3.0) * spec.noise
    with np.errstate(invalid="ignore"):
        ok = (out >= lo) & (out <= hi)
        out = np.where(ok, np.clip(out * (1.0 + eps), lo, hi), out)
    return out, shift


def copies_of(panel: Panel, spec: SynthSpec, first: int = 0, stop: int | None = None
              ) -> Iterator[tuple[int, list[str], np.ndarray, np.ndarray, int]]:
    """Copies ``first``..``stop`` one at a time: (copy, sensor names, (T, S, M) values, (S, 2) locations, shift)."""
    pts, _ = planar_layout(panel)
    offsets = tile_offsets(pts, spec.copies)
    lo, hi = hard_ranges(panel.measures, spec.ranges)
    for c in range(first, spec.copies if stop is None else stop):
        vals, shift = derive_copy(panel.values, c, spec, lo, hi)
        yield c, copy_names(panel.sensors, c, spec.copies), vals, pts + offsets[c], shift


def synth_panel(panel: Panel, spec: SynthSpec) -> Panel:
    """The whole derived network in memory (what ``write`` puts in the files, on the source's time grid)."""
    names: list[str] = []
    blocks, locs = [], {}
    for _, sens, vals, xy, _ in copies_of(panel, spec):
        names += sens
        blocks.append(vals)
        locs.update({s: (float(x), float(y)) for s, (x, y) in zip(sens, xy, strict=True)})
    values = np.concatenate(blocks, axis=1)
    return Panel(f"{panel.name}-x{spec.copies}", panel.times, panel.epochs, names, list(panel.measures), values,
                 locations=locs, geo=False, rows=int(np.isfinite(values).sum()))


def long_rows(times: list[str], sensors: list[str], measures: list[str], values: np.ndarray) -> pd.DataFrame:
    """The readings of one copy as long-CSV rows (missing readings are absent rows), in time order."""
    t, s, m = np.nonzero(np.isfinite(values))
    return pd.DataFrame({"timestamp": np.asarray(times, dtype=object)[t],
                         "sensor": np.asarray(sensors, dtype=object)[s],
                         "measure": np.asarray(measures, dtype=object)[m], "value": values[t, s, m]})


def command(spec: SynthSpec, out: str | Path) -> str:
    """The ``sensorcast synth`` command line that writes this spec to ``out``."""
    days = "" if spec.days is None else f" --days {spec.days:g}"
    measures = "" if not spec.measures else f" --measures {','.join(spec.measures)}"
    return (f"sensorcast synth --from {spec.source} --copies {spec.copies}{days}{measures} --seed {spec.seed} "
            f"--noise {spec.noise:g} --max-shift {spec.max_shift} --out {out}")


def readme(spec: SynthSpec, panel: Panel, how_located: str, shifts: list[int], rows: int, out: Path) -> str:
    days = "the whole data set" if spec.days is None else f"{spec.days:g} day(s) from its first UTC midnight"
    counts = np.bincount(shifts, minlength=spec.max_shift + 1)
    total = spec.copies * len(panel.sensors)
    return f"""# Derived data set — not real measurements

Derived by `sensorcast synth` from the real data set **{spec.source}** (`data/{datasets.BUNDLED[spec.source]}`,
see its PROVENANCE file): {spec.copies:,} copies of its {len(panel.sensors)} sensors = {total:,} sensors;
measures {", ".join(panel.measures)}; window: {days}, {panel.times[0]} .. {panel.times[-1]} UTC,
{len(panel.times):,} time steps; {rows:,} readings.

Command (deterministic: the same command writes the same files):

    {command(spec, out)}

How each copy `c<copy>-<sensor>` is made from the real sensor:
- the real series, shifted later by a whole number of time steps of the data set's grid (one draw per copy,
  0..{spec.max_shift}; copies per shift: {", ".join(f"{i}: {n}" for i, n in enumerate(counts))});
- multiplied by (1 + ε), ε ~ N(0, {spec.noise:g}) cut at ±3σ, on readings inside the hard range only, kept inside it;
- the real gaps stay gaps, the real out-of-range (faulty) readings are copied unchanged;
- location: the real one ({how_located}) plus the copy's tile offset (tiles on a square grid, one layout
  extent apart), so each sensor's nearest neighbours are its own copy's counterparts of the real ones.

Files: `readings.csv` (long CSV `timestamp,sensor,measure,value`, grouped by copy, time order within a copy),
`locations.csv` (`sensor,x,y`, planar; it lists every sensor, also one without any reading in the window,
which then has no row in `readings.csv`). Use:
`sensorcast backtest --dataset {out / "readings.csv"} --format long-csv --locations {out / "locations.csv"} --out DIR`
"""


def write(spec: SynthSpec, out: str | Path, progress: bool = False) -> dict:
    """Write the derived network to ``out`` (a folder), one copy at a time; returns a summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    panel = source_panel(spec)
    _, how_located = planar_layout(panel)
    times = [iso_ms(t) for t in panel.times]
    rows, shifts = 0, []
    with open(out / "readings.csv", "w", newline="") as fh, open(out / "locations.csv", "w", newline="") as lf:
        fh.write("timestamp,sensor,measure,value\n")
        lf.write("sensor,x,y\n")
        for c, sens, vals, xy, shift in copies_of(panel, spec):
            frame = long_rows(times, sens, panel.measures, vals)
            frame.to_csv(fh, header=False, index=False, float_format="%.7g", lineterminator="\n")
            pd.DataFrame({"sensor": sens, "x": xy[:, 0], "y": xy[:, 1]}).to_csv(
                lf, header=False, index=False, float_format="%.6f", lineterminator="\n")
            rows += len(frame)
            shifts.append(shift)
            if progress and (c + 1) % max(1, spec.copies // 10) == 0:
                print(f"  synth: {c + 1:,}/{spec.copies:,} copies, {rows:,} readings", flush=True)
    (out / "README.md").write_text(readme(spec, panel, how_located, shifts, rows, out))
    return {"sensors": spec.copies * len(panel.sensors), "measures": list(panel.measures), "steps": len(panel.times),
            "readings": rows, "out": str(out)}
