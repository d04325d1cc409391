"""Exponentially weighted mean of the good readings."""

from __future__ import annotations

import numpy as np

from .context import StepContext


class EMA:
    """m ← m + alpha · (y − m) on good readings; predicts m."""

    name = "ema"

    def __init__(self, n: int, alpha: float = 0.3) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"models.ema.alpha must be in (0, 1]; got {alpha}")
        self.alpha = alpha
        self.mean = np.full(n, np.nan)

    def predict(self, ctx: StepContext) -> np.ndarray:
        return self.mean.copy()

    def learn(self, ctx: StepContext, y: np.ndarray, mask: np.ndarray) -> None:
        first = mask & np.isnan(self.mean)
        self.mean[first] = y[first]
        upd = mask & ~first
        self.mean[upd] += self.alpha * (y[upd] - self.mean[upd])

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean}

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.mean = state["mean"].copy()
