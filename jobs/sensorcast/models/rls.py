"""Recursive least squares over a bank of N independent streams with p regressors each.

Exponential forgetting λ; the covariance P is kept symmetric, and reset to δ·I when its trace exceeds
``max_trace`` (windup while regressors are flat) or anything turns non-finite. The a-priori error is
clipped at ``huber`` running standard deviations, so a single spike cannot throw the weights far. Together
nothing diverges for λ in [0.95, 1] and no NaN escapes.
"""

from __future__ import annotations

import numba
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
        """One RLS update of the rows where ``mask`` holds (and x, y are finite): a compiled loop over the rows
        (numba), in place; every row's arithmetic is that of the plain RLS recursion below."""
        x, y = np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64)
        self.resets += _learn_rows(x, y, np.ascontiguousarray(mask, dtype=np.bool_), self.w, self.P, self.err_var,
                                   self.err_n, self.lam, self.huber, self.max_trace, self.delta)

    def state(self) -> dict[str, np.ndarray]:
        return {"w": self.w, "P": self.P, "err_var": self.err_var, "err_n": self.err_n}

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.w = state["w"].copy()
        self.P = state["P"].copy()
        self.err_var = state["err_var"].copy()
        self.err_n = state["err_n"].copy()


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _learn_rows(x, y, mask, w, P, err_var, err_n, lam, huber, max_trace, delta):  # pragma: no cover - compiled
    """The RLS update of every row i with mask[i] and finite x[i], y[i]; returns the number of resets.

    px = P x; gain = px / (λ + xᵀ px); e = y − xᵀ w, clipped at ``huber`` running standard deviations of e;
    w += gain e; P = sym((P − gain pxᵀ) / λ); P ← δ I (and w ← 0 if w is not finite) when its trace is not in
    (0, max_trace]."""
    n, p = x.shape
    px, gain = np.empty(p), np.empty(p)
    inv_lam = 1.0 / lam
    resets = 0
    for i in range(n):
        if not mask[i] or not np.isfinite(y[i]):
            continue
        finite = True
        for a in range(p):
            if not np.isfinite(x[i, a]):
                finite = False
        if not finite:
            continue
        denom = lam
        pred = 0.0
        for a in range(p):
            acc = 0.0
            for b in range(p):
                acc += P[i, a, b] * x[i, b]
            px[a] = acc
            denom += x[i, a] * acc
            pred += x[i, a] * w[i, a]
        err = y[i] - pred
        var, cnt = err_var[i], err_n[i]
        if cnt >= 10:
            lim = huber * np.sqrt(var) + 1e-9
            err = min(max(err, -lim), lim)
        g = 1.0 / (cnt + 1) if cnt < 100 else 0.01
        err_var[i] = (1 - g) * var + g * err * err
        err_n[i] = cnt + 1
        inv = 1.0 / denom
        w_ok = True
        for a in range(p):
            gain[a] = px[a] * inv
            w[i, a] += gain[a] * err
            w_ok &= np.isfinite(w[i, a])
        trace = 0.0
        for a in range(p):
            for b in range(a, p):
                v = 0.5 * inv_lam * ((P[i, a, b] - gain[a] * px[b]) + (P[i, b, a] - gain[b] * px[a]))
                P[i, a, b] = v
                P[i, b, a] = v
            trace += P[i, a, a]
        if not (np.isfinite(trace) and 0 < trace <= max_trace) or not w_ok:
            for a in range(p):
                for b in range(p):
                    P[i, a, b] = delta if a == b else 0.0
                if not w_ok:
                    w[i, a] = 0.0
            resets += 1
    return resets
