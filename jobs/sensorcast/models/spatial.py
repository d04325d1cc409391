"""Spatial RLS: a stream's value from its k neighbours' concurrent readings, its own last value and
an intercept.

Regressors are taken relative to the own last value v: y − v = c + Σ w_j (n_j − v). That is the linear
model in (v, n_1..n_k, 1) with the weights on v and the neighbours summing to one, which keeps it
level-free (one δ and trace bound for every measure) and anchored to the neighbours when the stream's
own readings are missing for a long time.
"""

from __future__ import annotations

import numpy as np

from .context import StepContext
from .rls import RLSBank


class SpatialRLS:
    """Neighbour regression; ``ctx.nbrs`` already holds the carried-forward neighbour readings."""

    name = "spatial-rls"

    def __init__(self, n: int, neighbours: int, forgetting: float = 0.995, delta: float = 100.0) -> None:
        self.k = neighbours
        self.rls = RLSBank(n, neighbours + 1, forgetting, delta, key="spatial-rls")
        self._x: np.ndarray | None = None

    def regressors(self, ctx: StepContext) -> np.ndarray:
        v = ctx.hist[:, :1]
        rel = (ctx.nbrs - v) / ctx.scale[:, None]
        rel = np.where(np.isfinite(rel), rel, 0.0)
        return np.concatenate([rel, np.ones((len(v), 1))], axis=1)

    def predict(self, ctx: StepContext) -> np.ndarray:
        self._x = self.regressors(ctx)
        return ctx.hist[:, 0] + ctx.scale * self.rls.predict(self._x)

    def learn(self, ctx: StepContext, y: np.ndarray, mask: np.ndarray) -> None:
        target = (y - ctx.hist[:, 0]) / ctx.scale
        self.rls.learn(self._x, target, mask)

    def state(self) -> dict[str, np.ndarray]:
        return self.rls.state()

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.rls.load(state)
