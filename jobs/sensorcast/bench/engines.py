"""The three ways of updating the same streams: the bank (one call per time step) and two
per-record libraries, padasip's ``FilterRLS`` and River's ``LinearRegression``, one object per stream.

Every engine is prepared for a number of time steps first (inputs laid out the way that library takes
them, outside the timed region), then ``step(t)`` applies all records of step t; ``reset()`` makes fresh
models (the state whose memory is measured).
"""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

import numpy as np

from ..models.rls import RLSBank
from .streams import Streams


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "(not installed: pip install -e '.[dev]')"


class BankEngine:
    """``RLSBank.learn`` over all N streams of a step at once (production settings unless overridden)."""

    name = "bank"
    label = "sensorcast RLSBank (one call per step)"
    per_record = False

    def __init__(self, s: Streams, forgetting: float, delta: float, **bank_kw: float) -> None:
        self.s, self.params = s, dict(forgetting=forgetting, delta=delta, key="spatial-rls", **bank_kw)
        self.reset()

    def reset(self) -> None:
        self.bank = RLSBank(self.s.n, self.s.p, **self.params)

    def prepare(self, steps: int) -> None:
        pass

    def step(self, t: int) -> None:
        self.bank.learn(self.s.x[t], self.s.y[t], self.s.mask[t])

    def weights(self) -> np.ndarray:
        return self.bank.w.copy()


class PadasipEngine:
    """One ``padasip.filters.FilterRLS`` per stream; R(0) = δ·I is padasip's ``eps`` = 1/δ, μ = λ (padasip and
    River come with the ``dev`` extra)."""

    name = "padasip"
    label = f"padasip {_version('padasip')} FilterRLS (per record)"
    per_record = True

    def __init__(self, s: Streams, forgetting: float, delta: float) -> None:
        import padasip

        self.s, self._new = s, lambda: padasip.filters.FilterRLS(s.p, mu=forgetting, eps=1.0 / delta, w="zeros")
        self.reset()

    def reset(self) -> None:
        self.filters = [self._new() for _ in range(self.s.n)]

    def prepare(self, steps: int) -> None:
        self.active = [np.flatnonzero(self.s.mask[t]).tolist() for t in range(steps)]
        self.targets = self.s.y[:steps].tolist()
        self.rows = [list(self.s.x[t]) for t in range(steps)]  # row views, as a per-record caller holds them

    def step(self, t: int) -> None:
        f, x, y = self.filters, self.rows[t], self.targets[t]
        for i in self.active[t]:
            f[i].adapt(y[i], x[i])

    def step_records(self, t: int, out: list[int]) -> None:
        """As ``step``, timing each record (ns) into ``out``."""
        f, x, y, clock = self.filters, self.rows[t], self.targets[t], time.perf_counter_ns
        for i in self.active[t]:
            a = clock()
            f[i].adapt(y[i], x[i])
            out.append(clock() - a)

    def weights(self) -> np.ndarray:
        return np.array([f.w for f in self.filters])


class RiverEngine:
    """One ``river.linear_model.LinearRegression`` (SGD) per stream: the k neighbour terms as features,
    River's own intercept as the constant regressor. River has no RLS; this is what a River user takes."""

    name = "river"
    label = f"River {_version('river')} LinearRegression (per record)"
    per_record = True

    def __init__(self, s: Streams, forgetting: float = 0.0, delta: float = 0.0) -> None:
        from river import linear_model

        self.s, self._new = s, linear_model.LinearRegression
        self.reset()

    def reset(self) -> None:
        self.models = [self._new() for _ in range(self.s.n)]

    def prepare(self, steps: int) -> None:
        k = self.s.p - 1
        keys = [f"n{j}" for j in range(k)]
        self.records = []
        for t in range(steps):
            xt, yt = self.s.x[t, :, :k].tolist(), self.s.y[t].tolist()
            self.records.append([(i, dict(zip(keys, xt[i], strict=True)), yt[i])
                                 for i in np.flatnonzero(self.s.mask[t]).tolist()])

    def step(self, t: int) -> None:
        m = self.models
        for i, x, y in self.records[t]:
            m[i].learn_one(x, y)

    def step_records(self, t: int, out: list[int]) -> None:
        m, clock = self.models, time.perf_counter_ns
        for i, x, y in self.records[t]:
            a = clock()
            m[i].learn_one(x, y)
            out.append(clock() - a)

    def weights(self) -> np.ndarray:
        k = self.s.p - 1
        return np.array([[m.weights.get(f"n{j}", 0.0) for j in range(k)] + [m.intercept] for m in self.models])


ENGINES = {e.name: e for e in (BankEngine, PadasipEngine, RiverEngine)}


def time_steps(engine, steps: int) -> np.ndarray:
    """Run ``engine.step`` over the first ``steps`` (prepared) time steps; wall time of each step in ns."""
    out = np.empty(steps, dtype=np.int64)
    clock = time.perf_counter_ns
    for t in range(steps):
        a = clock()
        engine.step(t)
        out[t] = clock() - a
    return out


def time_records(engine, steps: int) -> np.ndarray:
    """Per-record wall times (ns) of a per-record engine over the first ``steps`` (prepared) time steps."""
    out: list[int] = []
    for t in range(steps):
        engine.step_records(t, out)
    return np.asarray(out, dtype=np.int64)
