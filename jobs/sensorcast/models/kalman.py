"""Neighbourhood Kalman filter: each target tracks its own and its k neighbours' levels jointly.

Per target row the state holds a slow component for the target and each neighbour (d = k + 1 entries;
AR(1) with factor ``rho``, spatially correlated like the observed levels) and one fast component of the
target's own (AR(1), ``fast_rho``: its persistent local deviation, ``fast_share`` of its variance). A
neighbour's reading is its slow component plus noise ``noise``; the target's own reading is slow + fast
plus the smaller ``own_noise``. Everything is in deviations from a running mean ``mu``, in a transformed
space chosen by the caller (log1p for non-negative heavy-tailed measures).

Why: a gap fill then conditions on whichever neighbours report *now*, decays towards the mean when
nobody does (a network-wide outage), and never feeds on its own fills or on stale neighbour values.

Means and the level covariance are estimated online, discounted, over the steps where the target itself
reads (so Σ_NN and Σ_0N describe the same steps), from pairwise-complete readings; the covariance is made
positive definite (correlation eigenvalues floored) and refreshed every ``refresh`` steps. Every row
reads only its own neighbourhood's readings, so shards give the same numbers as one engine.
"""

from __future__ import annotations

import numpy as np

EIG_FLOOR = 1e-3  # smallest eigenvalue kept in a neighbourhood's correlation matrix


class NeighbourhoodKalman:
    """A bank of N small Kalman filters of dimension k + 2 (slow level per entry, fast own deviation)."""

    def __init__(self, n: int, k: int, rho: float = 0.99, fast_rho: float = 0.9, fast_share: float = 0.05,
                 noise: float = 0.03, own_noise: float = 0.003, mean_forgetting: float = 0.999,
                 cov_forgetting: float = 0.999, refresh: int = 24, key: str = "spatial-rls") -> None:
        for name, val in (("rho", rho), ("fast_rho", fast_rho)):
            if not 0.0 <= val < 1.0:
                raise ValueError(f"models.{key}.{name} must be in [0, 1); got {val}")
        if not 0.0 <= fast_share <= 1.0:
            raise ValueError(f"models.{key}.fast_share must be in [0, 1]; got {fast_share}")
        if noise <= 0 or own_noise <= 0:
            raise ValueError(f"models.{key}.noise and own_noise must be > 0; got {noise}, {own_noise}")
        for name, val in (("mean_forgetting", mean_forgetting), ("cov_forgetting", cov_forgetting)):
            if not 0.9 <= val <= 1.0:
                raise ValueError(f"models.{key}.{name} must be in [0.9, 1]; got {val}")
        if refresh < 1:
            raise ValueError(f"models.{key}.refresh must be >= 1; got {refresh}")
        d = k + 1
        self.d, self.refresh = d, int(refresh)
        self.rho, self.fast_rho, self.share = float(rho), float(fast_rho), float(fast_share)
        self.noise, self.own_noise = float(noise), float(own_noise)
        self.gm, self.gs = float(mean_forgetting), float(cov_forgetting)
        a = np.r_[np.full(d, self.rho), self.fast_rho]
        self.decay, self.decay2 = a, np.outer(a, a)
        self._eye_k = np.eye(k)
        self.h_own = np.zeros(d + 1)
        self.h_own[[0, d]] = 1.0  # the own reading: slow + fast of entry 0
        self.mu = np.full((n, d), np.nan)  # running mean per entry (transformed units)
        self.cnt = np.zeros((n, d))  # discounted reading count behind mu
        # discounted moments over the steps where both entries i and j read (pairwise complete)
        self.ref = np.full((n, d), np.nan)  # first reading per entry: the origin of m1, m2
        self.m1 = np.zeros((n, d, d))  # Σ x_i
        self.m2 = np.zeros((n, d, d))  # Σ x_i x_j
        self.wts = np.zeros((n, d, d))  # Σ 1
        self.z = np.zeros((n, d + 1))  # state: slow deviations of the d entries, then the own fast one
        self.P = np.zeros((n, d + 1, d + 1))
        self.Q = np.zeros((n, d + 1, d + 1))
        self.steps = np.zeros(1)
        self.resets = 0
        self._pending: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- covariance --------------------------------------------------------------------------
    def _refresh_q(self) -> None:
        """Process noise from the estimated level covariance (PD by construction)."""
        d = self.d
        eye = np.eye(d, dtype=bool)
        w = np.maximum(self.wts, 1e-12)
        mean = self.m1 / w  # mean[n, i, j]: entry i's mean over the readings shared with entry j
        sig = np.where(self.wts > 0, self.m2 / w - mean * mean.transpose(0, 2, 1), 0.0)
        known = self.wts > 5.0
        sd = np.sqrt(np.clip(sig[:, eye], 1e-6, None))
        sd = np.where(known[:, eye], sd, 0.5)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.where(known, sig / (sd[:, :, None] * sd[:, None, :]), 0.0)
        corr = np.clip(np.nan_to_num(corr), -1.0, 1.0)
        corr[:, eye] = 1.0
        ev, vec = np.linalg.eigh(corr)
        corr = np.einsum("nij,nj,nkj->nik", vec, np.clip(ev, EIG_FLOOR, None), vec)
        # the part of the target's variance its neighbours leave unexplained, 1 − R² = 1 / (C⁻¹)₀₀;
        # ``fast_share`` of it is the fast own deviation, the rest stays in the slow level
        unexplained = 1.0 / np.linalg.inv(corr)[:, 0, 0]
        fast = self.share * np.clip(unexplained, 0.0, 1.0) * sd[:, 0] ** 2
        slow = corr * sd[:, :, None] * sd[:, None, :]
        slow[:, 0, 0] -= fast
        q = np.zeros_like(self.Q)
        q[:, :d, :d] = (1 - self.rho**2) * slow
        q[:, d, d] = (1 - self.fast_rho**2) * fast
        self.Q = q + 1e-6 * np.eye(d + 1)

    # -- one step ----------------------------------------------------------------------------
    def predict(self, u_nbr: np.ndarray) -> np.ndarray:
        """Time update, then condition on the neighbours' current readings u_nbr (N, k; NaN: none).
        Returns the target's estimate (transformed units; NaN before its first reading)."""
        steps = int(self.steps[0])
        d = self.d
        refresh = steps % self.refresh == 0 or steps < 2 * self.refresh  # every step while it warms up
        if refresh:
            self._refresh_q()
        P = self.P * self.decay2 + self.Q
        if refresh:
            P = 0.5 * (P + P.transpose(0, 2, 1))  # rounding drift, now and then
        z = self.z * self.decay
        mu0 = np.where(np.isfinite(self.mu), self.mu, 0.0)
        seen = np.isfinite(u_nbr) & np.isfinite(self.mu[:, 1:])
        mf = seen.astype(float)
        dev = np.where(seen, u_nbr - mu0[:, 1:] - z[:, 1:d], 0.0)
        ph = P[:, 1:d, :] * mf[:, :, None]  # M H P: neighbour readings observe their slow entries
        s = P[:, 1:d, 1:d] * (mf[:, :, None] * mf[:, None, :])
        s += self._eye_k * (self.noise * mf + (1 - mf))[:, :, None]
        sol = np.linalg.solve(s, np.concatenate([ph, dev[:, :, None]], axis=2))  # S⁻¹ [M H P, dev]
        z = z + (ph.transpose(0, 2, 1) @ sol[:, :, -1:])[:, :, 0]
        P = P - ph.transpose(0, 2, 1) @ sol[:, :, :-1]
        self._pending = (z, P, u_nbr)
        return self.mu[:, 0] + z[:, 0] + z[:, d]

    def learn(self, u_own: np.ndarray, mask: np.ndarray) -> None:
        """Condition on the target's own reading where ``mask`` holds, then update means and covariance."""
        z, P, u_nbr = self._pending
        d = self.d
        reads = mask & np.isfinite(u_own)
        own = reads & np.isfinite(self.mu[:, 0])
        # a scalar measurement: rank-one update, no solve
        ph = P[:, :, 0] + P[:, :, d]
        s = ph[:, 0] + ph[:, d] + self.own_noise
        gain = np.where(own[:, None], ph / s[:, None], 0.0)
        dev = np.where(own, u_own - np.where(own, self.mu[:, 0], 0.0) - z[:, 0] - z[:, d], 0.0)
        z = z + gain * dev[:, None]
        P = P - gain[:, :, None] * ph[:, None, :]
        bad = ~np.isfinite(z.sum(axis=1) + P.sum(axis=(1, 2)))
        if bad.any():
            z[bad], P[bad] = 0.0, self.Q[bad]
            self.resets += int(bad.sum())
        self.z, self.P = z, P
        # statistics only from steps where the target itself reads: fitted on the neighbours' moments
        # over other steps (say, while the target is hidden), Σ_NN and Σ_0N would disagree
        if not reads.any():
            self.steps = self.steps + 1
            self._pending = None
            return
        u = np.concatenate([np.where(reads, u_own, np.nan)[:, None], u_nbr], axis=1)
        obs = np.isfinite(u) & reads[:, None]
        first = obs & np.isnan(self.mu)
        if first.any():
            self.mu[first] = u[first]
            self.ref[first] = u[first]
        of = obs.astype(float)
        x = np.where(obs, u - self.ref, 0.0)  # centred on a fixed reference for numerical accuracy
        both = of[:, :, None] * of[:, None, :]
        keep = 1.0 - (1.0 - self.gs) * both
        self.m2 *= keep
        self.m2 += both * (x[:, :, None] * x[:, None, :])
        self.m1 *= keep
        self.m1 += both * x[:, :, None]
        self.wts *= keep
        self.wts += both
        # discounted mean: the plain mean while few readings are in, then exponential forgetting
        self.cnt = np.where(obs, self.gm * self.cnt + 1.0, self.cnt)
        self.mu = np.where(obs, self.mu + (np.where(obs, u, 0.0) - np.where(obs, self.mu, 0.0))
                           / np.maximum(self.cnt, 1.0), self.mu)
        self.steps = self.steps + 1
        self._pending = None

    def state(self) -> dict[str, np.ndarray]:
        return {"mu": self.mu, "cnt": self.cnt, "ref": self.ref, "m1": self.m1, "m2": self.m2,
                "wts": self.wts, "z": self.z, "P": self.P, "Q": self.Q, "steps": self.steps}

    def load(self, state: dict[str, np.ndarray]) -> None:
        for name in ("mu", "cnt", "ref", "m1", "m2", "wts", "z", "P", "Q", "steps"):
            setattr(self, name, np.array(state[name], dtype=float))
