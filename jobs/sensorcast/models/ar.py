"""AR(p) on the stream's own past, fitted online by RLS.

Written on differences (an ARIMA(p,1,0) with drift): Δy_t = c + Σ a_i Δh_{t-i}, where h is the stream's
own value history (filled values where readings were missing or bad). Differences make the model
level-free, so one δ and one trace bound fit every measure.
"""

from __future__ import annotations

import numpy as np

from .context import StepContext
from .rls import RLSBank


class ARRLS:
    """Own-past autoregression; needs ``order + 1`` values of history."""

    name = "ar-rls"

    def __init__(self, n: int, order: int = 3, forgetting: float = 0.995, delta: float = 100.0) -> None:
        if not 1 <= order <= 48:
            raise ValueError(f"models.ar-rls.order must be in 1..48; got {order}")
        self.order = order
        self.history = order + 1
        self.rls = RLSBank(n, order + 1, forgetting, delta, key="ar-rls")
        self._x: np.ndarray | None = None

    def regressors(self, ctx: StepContext) -> np.ndarray:
        h = ctx.hist[:, : self.history]
        diffs = (h[:, :-1] - h[:, 1:]) / ctx.scale[:, None]
        diffs = np.where(np.isfinite(diffs), diffs, 0.0)
        return np.concatenate([diffs, np.ones((len(h), 1))], axis=1)

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
