"""The benchmark's input: spatial-rls regressors of real streams, built once so every engine gets the same.

For stream (sensor s, measure m) at step t the regressors are the tracking model's of ``SpatialRLS``:
``x = ((n_1 − v)/c, …, (n_k − v)/c, 1)`` with v the stream's last value, n_j its k neighbours'
carried-forward readings, c the measure's scale, and the target ``y = (reading − v)/c``; readings outside
the detection range are dropped first. Streams are sensor-major (stream = s · M + m), like the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import network
from ..io.panel import Panel


@dataclass
class Streams:
    """Regressors ``x`` (T, N, p), targets ``y`` (T, N) and which records exist, ``mask`` (T, N)."""

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    names: list[str]
    measures: list[str]
    k: int

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    @property
    def n(self) -> int:
        return self.x.shape[1]

    @property
    def p(self) -> int:
        return self.x.shape[2]

    def updates(self, steps: int | None = None) -> int:
        """Records (one RLS update each) in the first ``steps`` time steps."""
        return int(self.mask[:steps].sum())

    def head(self, steps: int) -> Streams:
        return Streams(self.x[:steps], self.y[:steps], self.mask[:steps], self.names, self.measures, self.k)

    def tiled(self, copies: int) -> Streams:
        """The same records repeated ``copies`` times along the stream axis (a bigger bank, same data)."""
        return Streams(np.tile(self.x, (1, copies, 1)), np.tile(self.y, (1, copies)),
                       np.tile(self.mask, (1, copies)), [f"{n}#{c}" for c in range(copies) for n in self.names],
                       self.measures, self.k)


def forward_fill(values: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward along axis 0 (NaN before the first one)."""
    t = np.arange(values.shape[0]).reshape((-1,) + (1,) * (values.ndim - 1))
    last = np.maximum.accumulate(np.where(np.isfinite(values), t, 0), axis=0)
    return np.take_along_axis(values, last, axis=0)


def from_panel(panel: Panel, cfg: dict, measures: list[str], steps: int | None = None) -> Streams:
    """Spatial-rls regressors for every sensor × ``measures`` of a panel, neighbours as ``network.build``."""
    sel = panel.select(measures=measures, stop=None if steps is None else steps + 1)
    net = network.build(sel, cfg)
    vals = sel.values.copy()
    with np.errstate(invalid="ignore"):
        vals[(vals < net.lo) | (vals > net.hi)] = np.nan
    filled = forward_fill(vals)
    own, cur = filled[:-1], filled[1:]  # v at t−1; carried-forward readings at t
    n_m = len(sel.measures)
    nbr = net.nbr.transpose(1, 0, 2)  # (S, M, k)
    nb = cur[:, nbr, np.arange(n_m)[None, :, None]]  # (T−1, S, M, k)
    scale = net.scale[None, None, :]
    with np.errstate(invalid="ignore"):
        rel = (nb - own[..., None]) / scale[..., None]
        y = (vals[1:] - own) / scale
    rel = np.where(np.isfinite(rel), rel, 0.0)
    x = np.concatenate([rel, np.ones(rel.shape[:-1] + (1,))], axis=-1)
    t, s = y.shape[:2]
    y = y.reshape(t, s * n_m)
    mask = np.isfinite(y)
    names = [f"{sen}/{m}" for sen in sel.sensors for m in sel.measures]
    return Streams(np.ascontiguousarray(x.reshape(t, s * n_m, -1)), np.where(mask, y, 0.0), mask, names,
                   list(sel.measures), int(net.nbr.shape[2]))
