"""Spatial RLS: a stream's value from its k neighbours' concurrent readings, its own last value and
an intercept — and, for gaps, a neighbourhood Kalman filter over the same neighbours.

* *tracking*: relative to the own last value v, y − v = c + Σ w_j (n_j − v) — the linear model in
  (v, n_1..n_k, 1) with the weights on v and the neighbours summing to one, fitted by RLS. Centering
  on v keeps it level-free, so one δ and trace bound fit every measure.
* *level*: a :class:`~.kalman.NeighbourhoodKalman` per stream (log1p space for non-negative
  measures). It conditions on the neighbours that report *now* (not on carried-forward values), decays
  towards the stream's mean when no one reports, and never learns from its own fills.

One step ahead the two are blended by their discounted squared one-step errors; once the stream has
been silent for ``gap`` steps the level estimate alone is used (the tracking model's own-value term
then feeds on its own fills and drifts).
"""

from __future__ import annotations

import numpy as np

from .context import StepContext
from .kalman import NeighbourhoodKalman
from .rls import RLSBank

TRANSFORMS = ("auto", "log", "none")


class SpatialRLS:
    """Neighbour regression; ``ctx.nbrs`` holds carried-forward neighbour readings, ``ctx.fresh`` new ones."""

    name = "spatial-rls"

    def __init__(self, n: int, neighbours: int, forgetting: float = 0.995, delta: float = 100.0,
                 gap: int = 1, level_forgetting: float = 0.999, rho: float = 0.99, fast_rho: float = 0.9,
                 fast_share: float = 0.05, noise: float = 0.03, own_noise: float = 0.003, refresh: int = 24,
                 transform: str = "auto", blend_discount: float = 0.95,
                 lower: np.ndarray | None = None) -> None:
        if gap < 1:
            raise ValueError(f"models.spatial-rls.gap must be >= 1; got {gap}")
        if transform not in TRANSFORMS:
            raise ValueError(f"models.spatial-rls.transform must be one of {', '.join(TRANSFORMS)}; got {transform!r}")
        if not 0.9 <= level_forgetting <= 1.0:
            raise ValueError(f"models.spatial-rls.level_forgetting must be in [0.9, 1]; got {level_forgetting}")
        if not 0 < blend_discount < 1:
            raise ValueError(f"models.spatial-rls.blend_discount must be in (0, 1); got {blend_discount}")
        self.k, self.gap = neighbours, gap
        self.track = RLSBank(n, neighbours + 1, forgetting, delta, key="spatial-rls")
        self.level = NeighbourhoodKalman(n, neighbours, rho, fast_rho, fast_share, noise, own_noise,
                                         level_forgetting, level_forgetting, refresh)
        lower = np.zeros(n) if lower is None else np.asarray(lower, dtype=float)
        self.log = np.full(n, transform == "log") if transform != "auto" else lower >= 0
        self.g = blend_discount
        self.err = np.ones((n, 2))  # discounted squared one-step error (scaled): tracking, level
        self._xt: np.ndarray | None = None
        self._pred: np.ndarray | None = None

    # -- transformed space -------------------------------------------------------------------
    def _fwd(self, y: np.ndarray, scale: np.ndarray) -> np.ndarray:
        log = self.log.reshape(-1, *([1] * (y.ndim - 1)))
        sc = scale.reshape(-1, *([1] * (y.ndim - 1)))
        with np.errstate(invalid="ignore"):
            return np.where(log, np.log1p(np.maximum(y, 0.0)), y / sc)

    def _inv(self, u: np.ndarray, scale: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.where(self.log, np.expm1(np.clip(u, -50.0, 50.0)), u * scale)

    @staticmethod
    def _rel(nbrs: np.ndarray, base: np.ndarray, scale: np.ndarray) -> np.ndarray:
        rel = (nbrs - base[:, None]) / scale[:, None]
        rel = np.where(np.isfinite(rel), rel, 0.0)
        return np.concatenate([rel, np.ones((len(base), 1))], axis=1)

    def predict(self, ctx: StepContext) -> np.ndarray:
        v = ctx.hist[:, 0]
        self._xt = self._rel(ctx.nbrs, v, ctx.scale)
        tracking = v + ctx.scale * self.track.predict(self._xt)
        fresh = ctx.nbrs if ctx.fresh is None else ctx.fresh
        level = self._inv(self.level.predict(self._fwd(fresh, ctx.scale)), ctx.scale)
        self._pred = np.stack([tracking, level], axis=1)
        inv = 1.0 / (self.err + 1e-12)
        w = inv[:, 1] / inv.sum(axis=1)
        blend = np.where(np.isfinite(level), w * level + (1 - w) * tracking, tracking)
        blend = np.where(np.isfinite(tracking), blend, level)
        return np.where((ctx.gap >= self.gap) & np.isfinite(level), level, blend)

    def learn(self, ctx: StepContext, y: np.ndarray, mask: np.ndarray) -> None:
        self.track.learn(self._xt, (y - ctx.hist[:, 0]) / ctx.scale, mask)
        self.level.learn(self._fwd(y, ctx.scale), mask)
        err = ((self._pred - y[:, None]) / ctx.scale[:, None]) ** 2
        upd = mask & (ctx.gap == 0) & np.isfinite(err).all(axis=1)
        self.err[upd] = self.g * self.err[upd] + (1 - self.g) * err[upd]

    def state(self) -> dict[str, np.ndarray]:
        return ({f"track.{k}": v for k, v in self.track.state().items()}
                | {f"level.{k}": v for k, v in self.level.state().items()}
                | {"err": self.err})

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.track.load({k[6:]: v for k, v in state.items() if k.startswith("track.")})
        self.level.load({k[6:]: v for k, v in state.items() if k.startswith("level.")})
        self.err = state["err"].copy()
