"""Recursive least squares over a bank of N independent streams with p regressors each.

Exponential forgetting λ; the covariance P is kept symmetric, and reset to δ·I when its trace exceeds
``max_trace`` (windup while regressors are flat) or anything turns non-finite. The a-priori error is
clipped at ``huber`` running standard deviations, so a single spike cannot throw the weights far. Together
nothing diverges for λ in [0.95, 1] and no NaN escapes.
"""

from __future__ import annotations

import numpy as np


class RLSBank:
    """Weights ``w`` (N, p) and covariances ``P`` (N, p, p); rows are updated independently."""

    def __init__(self, n: int, p: int, forgetting: float = 0.995, delta: float = 100.0,
                 max_trace: float | None = None, huber: float = 3.0, key: str = "rls") -> None:
        if not 0.9 <= forgetting <= 1.0:
            raise ValueError(f"models.{key}.forgetting must be in [0.9, 1]; got {forgetting}")
        if delta <= 0:
            raise ValueError(f"models.{key}.delta must be > 0; got {delta}")
        self.lam = float(forgetting)
        self.delta = float(delta)
        self.max_trace = float(max_trace) if max_trace else 10.0 * delta * p
        self.huber = float(huber)
        self.err_var = np.zeros(n)
        self.err_n = np.zeros(n)
        self.w = np.zeros((n, p))
        self.P = np.broadcast_to(np.eye(p) * delta, (n, p, p)).copy()
        self.resets = 0

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x (N, p) → x·w (N,)."""
        return (x * self.w).sum(axis=1)

    def learn(self, x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> None:
        """One RLS update of the rows where ``mask`` holds (and x, y are finite)."""
        mask = mask & np.isfinite(y) & np.isfinite(x).all(axis=1)
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        xs, ys, w, P = x[idx], y[idx], self.w[idx], self.P[idx]
        px = (P * xs[:, None, :]).sum(axis=2)  # P x
        denom = self.lam + (xs * px).sum(axis=1)
        gain = px / denom[:, None]
        err = ys - (xs * w).sum(axis=1)
        var, cnt = self.err_var[idx], self.err_n[idx]
        lim = np.where(cnt >= 10, self.huber * np.sqrt(var) + 1e-9, np.inf)
        clipped = np.clip(err, -lim, lim)
        g = np.where(cnt < 100, 1.0 / (cnt + 1), 0.01)
        self.err_var[idx] = (1 - g) * var + g * clipped * clipped
        self.err_n[idx] = cnt + 1
        err = clipped
        w = w + gain * err[:, None]
        P = (P - gain[:, :, None] * px[:, None, :]) / self.lam
        P = 0.5 * (P + P.transpose(0, 2, 1))
        trace = np.trace(P, axis1=1, axis2=2)
        bad = ~np.isfinite(trace) | (trace > self.max_trace) | (trace <= 0)
        bad_w = ~np.isfinite(w).all(axis=1)
        if bad.any() or bad_w.any():
            p = P.shape[1]
            P[bad | bad_w] = np.eye(p) * self.delta
            w[bad_w] = 0.0
            self.resets += int((bad | bad_w).sum())
        self.w[idx] = w
        self.P[idx] = P

    def state(self) -> dict[str, np.ndarray]:
        return {"w": self.w, "P": self.P, "err_var": self.err_var, "err_n": self.err_n}

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.w = state["w"].copy()
        self.P = state["P"].copy()
        self.err_var = state["err_var"].copy()
        self.err_n = state["err_n"].copy()
