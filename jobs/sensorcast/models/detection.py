"""Flag readings: hard range per measure, then a residual z-score against the fill prediction.

The z-score flag needs *every* model to miss: a reading that some model (say the neighbour regression
during a real, network-wide rise) explains is not an outlier, however far it is from the ensemble.

A flagged reading is not learned from and is replaced by the prediction. The z-score applies only while
the stream had a good reading within the last ``max_run`` steps: after a run of flags (a real level
shift) or a gap, the next in-range reading is accepted, so the models resynchronise.
"""

from __future__ import annotations

import numpy as np

OK, ERRONEOUS, MISSING = 0, 1, 2
FLAG_NAMES = ("ok", "erroneous", "missing")


class Detector:
    """Residual variance per stream (discounted)."""

    def __init__(self, n: int, z: float = 6.0, min_count: int = 30, max_run: int = 10,
                 discount: float = 0.99) -> None:
        if z <= 0:
            raise ValueError(f"detection.z must be > 0; got {z}")
        if max_run < 1 or min_count < 1:
            raise ValueError("detection.max_run and detection.min_count must be >= 1")
        self.zmax, self.min_count, self.max_run, self.g = z, min_count, max_run, discount
        self.var = np.zeros(n)
        self.count = np.zeros(n)

    def flag(self, y: np.ndarray, pred: np.ndarray, in_range: np.ndarray,
             others: np.ndarray | None = None, gap: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Returns (flags, z): MISSING where y is NaN, ERRONEOUS out of range or |z| too large for
        ``pred`` and for every row of ``others`` (B, N); ``gap`` is steps since the last good reading."""
        resid = y - pred
        closest = np.abs(resid)
        if others is not None:
            closest = np.fmin(closest, np.nanmin(np.abs(others - y), axis=0, initial=np.inf))
        with np.errstate(divide="ignore", invalid="ignore"):
            sd = np.sqrt(self.var)
            z = np.where(self.var > 0, resid / sd, 0.0)
            zmin = np.where(self.var > 0, closest / sd, 0.0)
        z = np.where(np.isfinite(z), z, 0.0)
        present = np.isfinite(y)
        zflag = present & in_range & (self.count >= self.min_count) & (np.nan_to_num(zmin) > self.zmax)
        if gap is not None:
            zflag &= gap < self.max_run
        flags = np.full(len(y), OK, dtype=np.int8)
        flags[~present] = MISSING
        flags[present & ~in_range] = ERRONEOUS
        flags[zflag] = ERRONEOUS
        return flags, np.where(present, z, np.nan)

    def learn(self, y: np.ndarray, pred: np.ndarray, mask: np.ndarray) -> None:
        r2 = (y - pred) ** 2
        upd = mask & np.isfinite(r2)
        g = np.where(self.count < 1 / (1 - self.g), 1 - 1 / (self.count + 1), self.g)  # mean, then EW
        self.var[upd] = g[upd] * self.var[upd] + (1 - g[upd]) * r2[upd]
        self.count[upd] += 1

    def state(self) -> dict[str, np.ndarray]:
        return {"var": self.var, "count": self.count}

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.var, self.count = state["var"].copy(), state["count"].copy()
