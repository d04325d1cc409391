"""Spatial RLS: a stream's value from its k neighbours' concurrent readings, its own last value and
an intercept.

Two regressions are kept per stream, both learned from every good reading:

* *tracking*: relative to the own last value v, y − v = c + Σ w_j (n_j − v) — the linear model in
  (v, n_1..n_k, 1) with the weights on v and the neighbours summing to one; best one step ahead.
* *level*: y − r = c' + Σ w'_j (n_j − r), with r the stream's first reading (a fixed reference),
  i.e. the neighbours alone, with its own, longer memory (``level_forgetting``). Used once the stream
  has been silent for ``gap`` steps, because the tracking model's own-value term then feeds on its
  own fills and drifts.

Centering on v or r keeps both regressions level-free, so one δ and trace bound fit every measure.
"""

from __future__ import annotations

import numpy as np

from .context import StepContext
from .rls import RLSBank


class SpatialRLS:
    """Neighbour regression; ``ctx.nbrs`` already holds the carried-forward neighbour readings."""

    name = "spatial-rls"

    def __init__(self, n: int, neighbours: int, forgetting: float = 0.995, delta: float = 100.0,
                 gap: int = 6, level_forgetting: float = 0.9995) -> None:
        if gap < 1:
            raise ValueError(f"models.spatial-rls.gap must be >= 1; got {gap}")
        self.k, self.gap = neighbours, gap
        self.track = RLSBank(n, neighbours + 1, forgetting, delta, key="spatial-rls")
        self.level = RLSBank(n, neighbours + 1, level_forgetting, delta, key="spatial-rls")
        self.ref = np.full(n, np.nan)
        self.resid = np.zeros(n)  # last level-model residual (scaled units)
        self.rho = np.zeros((n, 2))  # EW sums Σ r_t r_{t-1}, Σ r_{t-1}² for the residual AR(1)
        self.rho_g = level_forgetting
        self._xt: np.ndarray | None = None
        self._xl: np.ndarray | None = None

    @staticmethod
    def _rel(nbrs: np.ndarray, base: np.ndarray, scale: np.ndarray) -> np.ndarray:
        rel = (nbrs - base[:, None]) / scale[:, None]
        rel = np.where(np.isfinite(rel), rel, 0.0)
        return np.concatenate([rel, np.ones((len(base), 1))], axis=1)

    def predict(self, ctx: StepContext) -> np.ndarray:
        v = ctx.hist[:, 0]
        self._xt = self._rel(ctx.nbrs, v, ctx.scale)
        self._xl = self._rel(ctx.nbrs, self.ref, ctx.scale)
        tracking = v + ctx.scale * self.track.predict(self._xt)
        self._lp = self.level.predict(self._xl)
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.clip(np.nan_to_num(self.rho[:, 0] / self.rho[:, 1]), 0.0, 0.999)
        level = self.ref + ctx.scale * (self._lp + rho ** (ctx.gap + 1) * self.resid)
        return np.where((ctx.gap >= self.gap) & np.isfinite(level), level, tracking)

    def learn(self, ctx: StepContext, y: np.ndarray, mask: np.ndarray) -> None:
        first = mask & np.isnan(self.ref)
        self.ref[first] = y[first]
        self._xl[first] = self._rel(ctx.nbrs[first], self.ref[first], ctx.scale[first])
        self.track.learn(self._xt, (y - ctx.hist[:, 0]) / ctx.scale, mask)
        target = (y - self.ref) / ctx.scale
        r = target - self._lp
        both = mask & (ctx.gap == 0) & np.isfinite(r)
        g = self.rho_g
        self.rho[both, 0] = g * self.rho[both, 0] + r[both] * self.resid[both]
        self.rho[both, 1] = g * self.rho[both, 1] + self.resid[both] ** 2
        upd = mask & np.isfinite(r)
        self.resid[upd] = r[upd]
        self.level.learn(self._xl, target, mask)

    def state(self) -> dict[str, np.ndarray]:
        return ({f"track.{k}": v for k, v in self.track.state().items()}
                | {f"level.{k}": v for k, v in self.level.state().items()}
                | {"ref": self.ref, "resid": self.resid, "rho": self.rho})

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.track.load({k[6:]: v for k, v in state.items() if k.startswith("track.")})
        self.level.load({k[6:]: v for k, v in state.items() if k.startswith("level.")})
        self.ref = state["ref"].copy()
        self.resid = state["resid"].copy()
        self.rho = state["rho"].copy()
