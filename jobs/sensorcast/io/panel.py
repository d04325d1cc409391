"""The in-memory data set: a (time step × sensor × measure) grid plus what the reader rejected.

Every reader builds one of these, so models, protocols, replay and the Spark source share one shape.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class BadLine:
    """One input line a reader rejected: where, why, and the raw text (for the quarantine path)."""

    line_no: int
    reason: str
    text: str


@dataclass
class BadLines:
    """Rejected lines of a read: a counter per reason and the first few lines kept verbatim."""

    keep: int = 1000
    counts: Counter = field(default_factory=Counter)
    samples: list[BadLine] = field(default_factory=list)

    def add(self, line_no: int, reason: str, text: str) -> None:
        self.counts[reason] += 1
        if len(self.samples) < self.keep:
            self.samples.append(BadLine(line_no, reason, text.rstrip("\n")))
        if self.counts[reason] <= 3:
            log.warning("bad input line %d (%s): %r", line_no, reason, text.rstrip("\n")[:200])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


@dataclass
class Panel:
    """A sensor data set on its time grid.

    ``values[t, s, m]`` is the reading of sensor ``sensors[s]``, measure ``measures[m]`` at time step
    ``t`` (NaN where the sensor did not report). ``epochs`` are the network's sequence numbers (or the
    index on the data set's grid); ``times`` are UTC timestamps in ms.
    """

    name: str
    times: np.ndarray  # datetime64[ms], (T,)
    epochs: np.ndarray  # int64, (T,)
    sensors: list[str]
    measures: list[str]
    values: np.ndarray  # float64, (T, S, M)
    locations: dict[str, tuple[float, float]] | None = None
    geo: bool = False  # locations are (lat, lon) degrees rather than planar (x, y)
    bad: BadLines = field(default_factory=BadLines)
    rows: int = 0  # input readings read (one per sensor and measure present)
    holdout_days: list[str] | None = None  # days the day-holdout protocol scores (None: every day >= 2)
    truth: np.ndarray | None = None  # held-out ground truth (T, S, M) where the source publishes one

    def __post_init__(self) -> None:
        t, s, m = self.values.shape
        if (t, s, m) != (len(self.times), len(self.sensors), len(self.measures)):
            raise ValueError(f"panel {self.name}: values {self.values.shape} do not match the axes")
        if len(self.epochs) != t:
            raise ValueError(f"panel {self.name}: {len(self.epochs)} epochs for {t} time steps")

    @property
    def days(self) -> np.ndarray:
        """UTC calendar day of each time step, as datetime64[D]."""
        return self.times.astype("datetime64[D]")

    def select(self, measures: list[str] | None = None, sensors: list[str] | None = None,
               start: int = 0, stop: int | None = None) -> Panel:
        """A sub-panel: some measures, some sensors, a range of time steps."""
        mi = [self.measures.index(m) for m in measures] if measures else list(range(len(self.measures)))
        si = [self.sensors.index(s) for s in sensors] if sensors else list(range(len(self.sensors)))
        sl = slice(start, stop)
        vals = self.values[sl][:, si][:, :, mi]
        truth = None if self.truth is None else self.truth[sl][:, si][:, :, mi]
        locs = None
        if self.locations is not None:
            locs = {self.sensors[i]: self.locations[self.sensors[i]] for i in si
                    if self.sensors[i] in self.locations}
        return Panel(self.name, self.times[sl], self.epochs[sl], [self.sensors[i] for i in si],
                     [self.measures[i] for i in mi], vals, locs, self.geo, self.bad,
                     int(np.isfinite(vals).sum()), self.holdout_days, truth)


def grid_from_long(name: str, times: np.ndarray, sensor: np.ndarray, measure: np.ndarray,
                   value: np.ndarray, bad: BadLines, epochs: np.ndarray | None = None,
                   sensor_order: list[str] | None = None) -> Panel:
    """Build a panel from long arrays (one entry per reading); the time steps are the distinct times.

    Duplicates of (time step, sensor, measure) keep the first reading and are counted as bad lines.
    """
    key = epochs if epochs is not None else times.astype("datetime64[ms]").astype(np.int64)
    steps, t_idx = np.unique(key, return_inverse=True)
    sensors = sensor_order or sorted(set(sensor.tolist()), key=_natural)
    s_map = {s: i for i, s in enumerate(sensors)}
    measures = list(dict.fromkeys(measure.tolist()))
    m_map = {m: i for i, m in enumerate(measures)}
    s_idx = np.array([s_map[s] for s in sensor], dtype=np.int64)
    m_idx = np.array([m_map[m] for m in measure], dtype=np.int64)
    shape = (len(steps), len(sensors), len(measures))
    flat = np.ravel_multi_index((t_idx, s_idx, m_idx), shape)
    _, first = np.unique(flat, return_index=True)
    dup = np.ones(len(flat), dtype=bool)
    dup[first] = False
    for i in np.flatnonzero(dup)[:1000]:
        bad.add(-1, "duplicate", f"{sensor[i]},{measure[i]},{key[i]}")
    if dup.sum() > 1000:
        bad.counts["duplicate"] += int(dup.sum()) - 1000
    values = np.full(shape, np.nan)
    values.ravel()[flat[first]] = value[first]
    t_ms = times.astype("datetime64[ms]")
    step_time = np.full(len(steps), np.iinfo(np.int64).max)
    np.minimum.at(step_time, t_idx, t_ms.astype(np.int64))
    ep = steps.astype(np.int64) if epochs is not None else np.arange(len(steps), dtype=np.int64)
    return Panel(name, step_time.astype("datetime64[ms]"), ep, sensors, measures, values,
                 bad=bad, rows=int(np.isfinite(value[first]).sum()))


def _natural(s: str) -> tuple:
    """Sort key putting '2' before '10'."""
    return (0, int(s), s) if s.isdigit() else (1, 0, s)
