"""The engine: every enabled model over a bank of target streams, one time step at a time.

A *stream* is one (sensor, measure). The engine reads a vector of input streams per step (its targets
plus the neighbours they use), predicts each target with every model, flags, fills, then learns from
the good readings. Offline backtests run one engine over all streams; the Spark job runs one per shard
of target sensors. Every operation is row-wise, so both give the same numbers.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .ar import ARRLS
from .context import StepContext
from .detection import ERRONEOUS, MISSING, OK, Detector
from .ema import EMA
from .ensemble import Ensemble
from .persistence import Persistence
from .spatial import SpatialRLS

MODEL_NAMES = ("persistence", "ema", "ar-rls", "spatial-rls", "ensemble")


@dataclass
class Layout:
    """Which inputs each target stream reads.

    ``own_idx[i]`` is target i's own input stream, ``nbr_idx[i]`` its k neighbours' input streams;
    ``lo``/``hi`` are hard ranges per input stream, ``scale`` a per-target unit (see models.context).
    """

    own_idx: np.ndarray  # (N,)
    nbr_idx: np.ndarray  # (N, k)
    lo: np.ndarray  # (N_in,)
    hi: np.ndarray  # (N_in,)
    scale: np.ndarray  # (N,)

    @property
    def n(self) -> int:
        return len(self.own_idx)


@dataclass
class StepOut:
    """One step's outputs for the N targets; ``preds`` rows follow ``Engine.models``."""

    preds: np.ndarray  # (n_models, N)
    actual: np.ndarray  # (N,) NaN where missing (or hidden)
    value: np.ndarray  # (N,) actual if ok, else the fill
    flag: np.ndarray  # (N,) int8: 0 ok, 1 erroneous, 2 missing
    z: np.ndarray  # (N,)
    in_range: np.ndarray  # (N,) bool: actual present and inside the hard range (scorable)


class Engine:
    """Model bank for ``layout.n`` target streams; ``models`` is the ordered list of enabled names."""

    def __init__(self, layout: Layout, models: dict[str, dict], detection: dict | None = None) -> None:
        unknown = set(models) - set(MODEL_NAMES)
        if unknown:
            raise ValueError(f"models: unknown model(s) {sorted(unknown)}; known: {', '.join(MODEL_NAMES)}")
        self.layout = layout
        n = layout.n
        self.models = [m for m in MODEL_NAMES if m in models]
        if not self.models:
            raise ValueError("models: enable at least one model")
        k = layout.nbr_idx.shape[1]
        self.base = {"persistence": Persistence(n)}
        if "ema" in models:
            self.base["ema"] = EMA(n, **models["ema"])
        if "ar-rls" in models:
            self.base["ar-rls"] = ARRLS(n, **models["ar-rls"])
        if "spatial-rls" in models:
            params = {p: v for p, v in models["spatial-rls"].items() if p not in ("neighbours", "method")}
            if k == 0:
                raise ValueError("models.spatial-rls.neighbours must be >= 1")
            self.base["spatial-rls"] = SpatialRLS(n, k, lower=layout.lo[layout.own_idx], **params)
        self.base_names = list(self.base)
        self.ensemble = Ensemble(n, len(self.base), **models["ensemble"]) if "ensemble" in models else None
        self.fill_model = "ensemble" if self.ensemble else self.models[-1]
        self.detector = Detector(n, **(detection or {}))
        hist = max([2] + [m.history for m in self.base.values() if hasattr(m, "history")])
        self.hist = np.full((n, hist), np.nan)
        self.last_ok = np.full(n, np.nan)
        self.carry = np.full(len(layout.lo), np.nan)  # latest in-range reading of every input stream
        self.seen = np.full((n, 2), np.nan)  # min and max good reading per target
        self.gap = np.zeros(n)  # steps since the last good reading
        self.steps = 0

    def step(self, y_in: np.ndarray, hide: np.ndarray | None = None) -> StepOut:
        """Predict, flag, fill and learn one time step. ``y_in`` (N_in,) has NaN for no reading;
        ``hide`` (N,) hides targets' own readings (day-holdout) without hiding them as neighbours."""
        lay = self.layout
        in_rng_in = (y_in >= lay.lo) & (y_in <= lay.hi)
        self.carry = np.where(in_rng_in, y_in, self.carry)
        y = y_in[lay.own_idx].copy()
        if hide is not None:
            y[hide] = np.nan
        v = self.hist[:, 0]
        nbrs = self.carry[lay.nbr_idx]
        nbrs = np.where(np.isfinite(nbrs), nbrs, v[:, None])
        fresh = np.where(in_rng_in, y_in, np.nan)[lay.nbr_idx]
        ctx = StepContext(self.hist, nbrs, lay.scale, self.last_ok, self.gap, fresh)
        base = np.stack([m.predict(ctx) for m in self.base.values()])
        fallback = base[0]
        base = np.where(np.isfinite(base), base, fallback)
        base = np.clip(base, *self.bounds())
        if self.ensemble is not None:
            ens = self.ensemble.combine(np.where(np.isfinite(base), base, 0.0))
            if "spatial-rls" in self.base:  # own-past errors say nothing of a long gap: follow neighbours
                sp = self.base["spatial-rls"]
                ens = np.where(self.gap >= sp.gap, base[self.base_names.index("spatial-rls")], ens)
            ens = np.where(np.isfinite(fallback), ens, np.nan)
            preds = dict(zip(self.base_names, base, strict=True)) | {"ensemble": ens}
        else:
            preds = dict(zip(self.base_names, base, strict=True))
        fill = preds[self.fill_model]
        in_range = in_rng_in[lay.own_idx] & np.isfinite(y)
        flag, z = self.detector.flag(y, np.where(np.isfinite(fill), fill, y), in_range, base, self.gap)
        ok = flag == OK
        for model in self.base.values():
            model.learn(ctx, y, ok)
        if self.ensemble is not None:
            self.ensemble.learn(base, y, lay.scale, ok & np.isfinite(fallback))
        self.detector.learn(y, fill, ok & np.isfinite(fill))
        value = np.where(ok, y, fill)
        self.last_ok = np.where(ok, y, self.last_ok)
        self.gap = np.where(ok, 0, self.gap + 1)
        self.seen[:, 0] = np.fmin(self.seen[:, 0], np.where(ok, y, np.nan))
        self.seen[:, 1] = np.fmax(self.seen[:, 1], np.where(ok, y, np.nan))
        self.hist = np.roll(self.hist, 1, axis=1)
        self.hist[:, 0] = np.where(np.isfinite(value), value, v)
        self.steps += 1
        return StepOut(np.stack([preds[m] for m in self.models]), np.where(flag == MISSING, np.nan, y),
                       value, flag, z, in_range)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Plausible prediction range per target: the seen range widened by its span on both sides,
        inside the hard range. Bounds any model's excursion, whatever its weights do."""
        lay = self.layout
        lo_seen, hi_seen = self.seen[:, 0], self.seen[:, 1]
        span = hi_seen - lo_seen + lay.scale
        lo = np.fmax(lo_seen - span, lay.lo[lay.own_idx])
        hi = np.fmin(hi_seen + span, lay.hi[lay.own_idx])
        return np.where(np.isfinite(lo), lo, -np.inf), np.where(np.isfinite(hi), hi, np.inf)

    # -- state ---------------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        out = {"engine.hist": self.hist, "engine.last_ok": self.last_ok, "engine.carry": self.carry,
               "engine.seen": self.seen, "engine.gap": self.gap,
               "engine.steps": np.array(self.steps)}
        parts = dict(self.base) | {"detector": self.detector}
        if self.ensemble is not None:
            parts["ensemble"] = self.ensemble
        for name, part in parts.items():
            out |= {f"{name}.{k}": v for k, v in part.state().items()}
        return out

    def load(self, state: dict[str, np.ndarray]) -> None:
        self.hist = state["engine.hist"].copy()
        self.last_ok = state["engine.last_ok"].copy()
        self.carry = state["engine.carry"].copy()
        self.seen = state["engine.seen"].copy()
        self.gap = state["engine.gap"].copy()
        self.steps = int(state["engine.steps"])
        parts = dict(self.base) | {"detector": self.detector}
        if self.ensemble is not None:
            parts["ensemble"] = self.ensemble
        for name, part in parts.items():
            pre = f"{name}."
            part.load({k[len(pre):]: v for k, v in state.items() if k.startswith(pre)})

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **self.state())
        return buf.getvalue()

    def from_bytes(self, blob: bytes) -> None:
        with np.load(io.BytesIO(blob)) as data:
            self.load({k: data[k] for k in data.files})


__all__ = ["MODEL_NAMES", "Engine", "Layout", "StepOut", "OK", "ERRONEOUS", "MISSING"]
