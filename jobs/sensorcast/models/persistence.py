"""Persistence: predict the last good reading."""

from __future__ import annotations

import numpy as np

from .context import StepContext


class Persistence:
    """The baseline every other model is compared with (and falls back to)."""

    name = "persistence"

    def __init__(self, n: int) -> None:
        self.n = n

    def predict(self, ctx: StepContext) -> np.ndarray:
        return ctx.last_ok.copy()

    def learn(self, ctx: StepContext, y: np.ndarray, mask: np.ndarray) -> None:
        """Nothing to learn: the engine keeps ``last_ok`` itself."""

    def state(self) -> dict[str, np.ndarray]:
        return {}

    def load(self, state: dict[str, np.ndarray]) -> None:
        """Stateless beyond the engine's ``last_ok``."""
