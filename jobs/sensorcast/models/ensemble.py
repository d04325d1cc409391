"""Online ensemble: combine the base models by their recent (discounted) squared error."""

from __future__ import annotations

import numpy as np

MODES = ("inverse-mse", "best")


class Ensemble:
    """Weights ∝ 1 / discounted MSE (``inverse-mse``) or all weight on the lowest (``best``)."""

    name = "ensemble"

    def __init__(self, n: int, n_base: int, discount: float = 0.95, mode: str = "inverse-mse",
                 power: float = 2.0) -> None:
        if not 0 < discount < 1:
            raise ValueError(f"models.ensemble.discount must be in (0, 1); got {discount}")
        if mode not in MODES:
            raise ValueError(f"models.ensemble.mode must be one of {MODES}; got {mode!r}")
        self.discount, self.mode, self.power = discount, mode, power
        self.dmse = np.ones((n, n_base))

    def weights(self) -> np.ndarray:
        if self.mode == "best":
            w = np.zeros_like(self.dmse)
            w[np.arange(len(w)), np.argmin(self.dmse, axis=1)] = 1.0
            return w
        inv = 1.0 / (self.dmse + 1e-12) ** self.power
        return inv / inv.sum(axis=1, keepdims=True)

    def combine(self, base: np.ndarray) -> np.ndarray:
        """base (B, N) predictions (finite: the engine has applied the fallback) → (N,)."""
        return (self.weights() * base.T).sum(axis=1)

    def learn(self, base: np.ndarray, y: np.ndarray, scale: np.ndarray, mask: np.ndarray) -> None:
        err = ((base - y) / scale).T ** 2  # (N, B), dimensionless
        g = self.discount
        upd = mask & np.isfinite(err).all(axis=1)
        self.dmse[upd] = g * self.dmse[upd] + (1 - g) * err[upd]

    def state(self) -> dict[str, np.ndarray]:
        return {"dmse": self.dmse}

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.dmse = state["dmse"].copy()
