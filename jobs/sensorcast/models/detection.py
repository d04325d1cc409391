"""Flag readings: hard range per measure, then a residual z-score against the ensemble prediction.

A flagged reading is not learned from and is replaced by the prediction. A run of ``max_run``
consecutive z-score flags is taken as a real level shift and accepted, so the models resynchronise.
"""

from __future__ import annotations

import numpy as np

OK, ERRONEOUS, MISSING = 0, 1, 2
FLAG_NAMES = ("ok", "erroneous", "missing")


class Detector:
    """Residual variance per stream (discounted), run length of z flags."""

    def __init__(self, n: int, z: float = 6.0, min_count: int = 30, max_run: int = 10,
                 discount: float = 0.99) -> None:
        if z <= 0:
            raise ValueError(f"detection.z must be > 0; got {z}")
        if max_run < 1 or min_count < 1:
            raise ValueError("detection.max_run and detection.min_count must be >= 1")
        self.zmax, self.min_count, self.max_run, self.g = z, min_count, max_run, discount
        self.var = np.zeros(n)
        self.count = np.zeros(n)
        self.run = np.zeros(n)

    def flag(self, y: np.ndarray, pred: np.ndarray, in_range: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns (flags, z): MISSING where y is NaN, ERRONEOUS out of range or |z| too large."""
        resid = y - pred
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(self.var > 0, resid / np.sqrt(self.var), 0.0)
        z = np.where(np.isfinite(z), z, 0.0)
        present = np.isfinite(y)
        zflag = present & in_range & (self.count >= self.min_count) & (np.abs(z) > self.zmax)
        zflag &= self.run < self.max_run
        flags = np.full(len(y), OK, dtype=np.int8)
        flags[~present] = MISSING
        flags[present & ~in_range] = ERRONEOUS
        flags[zflag] = ERRONEOUS
        self.run = np.where(zflag, self.run + 1, np.where(present & in_range, 0, self.run))
        return flags, np.where(present, z, np.nan)

    def learn(self, y: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> None:
        r2 = (y - pred) ** 2
        upd = mask & np.isfinite(r2)
        g = np.where(self.count < 1 / (1 - self.g), 1 - 1 / (self.count + 1), self.g)  # mean, then EW
        self.var[upd] = g[upd] * self.var[upd] + (1 - g[upd]) * r2[upd]
        self.count[upd] += 1

    def state(self) -> dict[str, np.ndarray]:
        return {"var": self.var, "count": self.count, "run": self.run}

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.var, self.count, self.run = (state[k].copy() for k in ("var", "count", "run"))
