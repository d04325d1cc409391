"""Protocols (online, day-holdout, aqi36) over the offline engine, and the metrics they report.

Scoring rules (design §4): readings before the first full UTC day are warm-up (learned from, not
scored); readings outside the hard range are not ground truth and are not scored; every model predicts
every scored point (falling back to persistence), so all models share ``n``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import config as config_mod
from .io.aqi36 import eval_mask
from .io.locations import warmup_steps
from .io.panel import Panel
from .models import Engine
from .network import Network, build

PROTOCOLS = ("online", "day-holdout", "aqi36")


@dataclass
class Outcome:
    """Per (time step, stream) results of a protocol run; arrays are (T, N) or (T, n_models, N)."""

    panel: Panel
    network: Network
    models: list[str]
    preds: np.ndarray
    value: np.ndarray
    flag: np.ndarray
    z: np.ndarray
    truth: np.ndarray
    scored: np.ndarray
    protocol: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def _progress(label: str, done: int, total: int, t0: float, every: list[int]) -> None:
    pct = 100 * done // max(total, 1)
    if pct >= every[0]:
        rate = done / max(time.time() - t0, 1e-9)
        print(f"  {label}: {pct:3d}% ({done}/{total} steps, {rate:,.0f} steps/s)", file=sys.stderr)
        every[0] = pct + 10


def new_engine(net: Network, cfg: dict, sensors: list[int] | None = None):
    """An engine for some target sensors of the network (default all); returns (engine, targets, inputs)."""
    lay, targets, inputs = net.layout(sensors)
    eng = Engine(lay, config_mod.engine_models(cfg), config_mod.detection_params(cfg))
    return eng, targets, inputs


def run_protocol(panel: Panel, cfg: dict, protocol: str = "online", progress: bool = True) -> Outcome:
    """Run the engine over the whole panel under a protocol and keep every step's outputs."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"--protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    t0 = time.time()
    net = build(panel, cfg)
    eng, _, _ = new_engine(net, cfg)
    n_t, n = len(panel.times), net.n_streams
    flat = panel.values.reshape(n_t, n)
    preds = np.full((n_t, len(eng.models), n), np.nan)
    value = np.full((n_t, n), np.nan)
    flag = np.zeros((n_t, n), dtype=np.int8)
    z = np.full((n_t, n), np.nan)
    days = panel.days
    holdout = protocol == "day-holdout"
    hold_days = set(scored_days(panel)[1:] if panel.holdout_days is None else
                    np.array(panel.holdout_days, dtype="datetime64[D]")) if holdout else set()
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    ends = np.r_[starts[1:], n_t]
    every = [10]
    for a, b in zip(starts, ends, strict=True):
        if days[a] in hold_days:
            shadow, _, _ = new_engine(net, cfg)
            shadow.load(eng.state())
            hide = np.ones(n, dtype=bool)
            for t in range(a, b):
                out = shadow.step(flat[t], hide)
                preds[t] = out.preds
        for t in range(a, b):
            out = eng.step(flat[t])
            if not holdout or days[a] not in hold_days:
                preds[t] = out.preds
            value[t], flag[t], z[t] = out.value, out.flag, out.z
        if progress:
            _progress(f"{panel.name} {protocol}", b, n_t, t0, every)
    truth, scored = scoring_mask(panel, net, protocol, hold_days)
    scored &= np.isfinite(preds[:, 0])  # persistence has a value: every model predicts every point
    return Outcome(panel, net, eng.models, preds, value, flag, z, truth, scored, protocol,
                   time.time() - t0)


def scored_days(panel: Panel) -> list[np.datetime64]:
    """Full UTC days of the panel, from day 1 (the first full day) on."""
    days = panel.days
    first = days[warmup_steps(panel) - 1] if warmup_steps(panel) else days[0]
    return [d for d in np.unique(days) if d >= first]


def scoring_mask(panel: Panel, net: Network, protocol: str, hold_days: set) -> tuple[np.ndarray, np.ndarray]:
    """(truth, scored) arrays of shape (T, N) for a protocol."""
    n_t = len(panel.times)
    m_of = np.tile(np.arange(len(net.measures)), len(net.sensors))
    if protocol == "aqi36":
        truth = panel.truth.reshape(n_t, -1)
        return truth, eval_mask(panel).reshape(n_t, -1)
    truth = panel.values.reshape(n_t, -1)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(truth) & (truth >= net.lo[m_of]) & (truth <= net.hi[m_of])
    days = panel.days
    if protocol == "day-holdout":
        in_days = np.isin(days, np.array(sorted(hold_days), dtype="datetime64[D]"))
    else:
        in_days = np.isin(days, np.array(scored_days(panel), dtype="datetime64[D]"))
    return truth, ok & in_days[:, None]


# -- metrics ------------------------------------------------------------------------------------
def _stats(err: np.ndarray, groups: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group and model: (mae, mse, n); err is (n_points, n_models)."""
    n = np.bincount(groups, minlength=n_groups).astype(float)
    mae = np.stack([np.bincount(groups, np.abs(e), n_groups) for e in err.T], axis=1)
    mse = np.stack([np.bincount(groups, e * e, n_groups) for e in err.T], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return mae / n[:, None], mse / n[:, None], n


def _entry(mae: float, mse: float, n: float) -> dict:
    return {"mae": round(float(mae), 6), "mse": round(float(mse), 6), "n": int(n)}


def metrics(points: dict, sensors: list[str], measures: list[str], models: list[str],
            dataset: str, protocol: str, rows: int, seconds: float) -> dict:
    """The metrics.json contract (schemas/metrics.schema.json) from scored points.

    ``points``: ``stream`` (n,) sensor-major stream ids, ``day`` (n,) datetime64[D], ``err`` (n, n_models).
    """
    n_m = len(measures)
    stream, err = points["stream"], points["err"]
    m_idx, s_idx = stream % n_m, stream // n_m
    day_keys, d_idx = np.unique(points["day"], return_inverse=True)
    out: dict = {"dataset": dataset, "protocol": protocol, "rows": int(rows), "seconds": round(seconds, 3),
                 "by_measure": {}, "per_day": {}, "per_sensor": {}, "models": {}}

    def block(mae, mse, n, i) -> dict:
        return {model: _entry(mae[i, j], mse[i, j], n[i]) for j, model in enumerate(models)}

    mae, mse, n = _stats(err, m_idx, n_m)
    for i, m in enumerate(measures):
        if n[i]:
            out["by_measure"][m] = block(mae, mse, n, i)
    g = m_idx * len(day_keys) + d_idx
    mae, mse, n = _stats(err, g, n_m * len(day_keys))
    for i, m in enumerate(measures):
        days = {str(d): block(mae, mse, n, i * len(day_keys) + j)
                for j, d in enumerate(day_keys) if n[i * len(day_keys) + j]}
        if days:
            out["per_day"][m] = days
    g = m_idx * len(sensors) + s_idx
    mae, mse, n = _stats(err, g, n_m * len(sensors))
    for i, m in enumerate(measures):
        per = {s: block(mae, mse, n, i * len(sensors) + j)
               for j, s in enumerate(sensors) if n[i * len(sensors) + j]}
        if per:
            out["per_sensor"][m] = per
    scored = list(out["by_measure"])
    if len(scored) == 1:
        out["models"] = out["by_measure"][scored[0]]
    elif scored:
        for model in models:
            rel_mae = [out["by_measure"][m][model]["mae"] / out["by_measure"][m]["persistence"]["mae"]
                       for m in scored if out["by_measure"][m]["persistence"]["mae"] > 0]
            rel_mse = [out["by_measure"][m][model]["mse"] / out["by_measure"][m]["persistence"]["mse"]
                       for m in scored if out["by_measure"][m]["persistence"]["mse"] > 0]
            out["models"][model] = {"mae": round(float(np.mean(rel_mae)), 6),
                                    "mse": round(float(np.mean(rel_mse)), 6),
                                    "n": sum(out["by_measure"][m][model]["n"] for m in scored),
                                    "relative_to": "persistence"}
    return out


def outcome_points(oc: Outcome) -> dict:
    """Scored points of an offline run in the form :func:`metrics` takes."""
    t_idx, stream = np.nonzero(oc.scored)
    err = oc.preds[t_idx, :, stream] - oc.truth[t_idx, stream][:, None]
    return {"stream": stream, "day": oc.panel.days[t_idx], "err": err}


def outcome_metrics(oc: Outcome) -> dict:
    res = metrics(outcome_points(oc), oc.network.sensors, oc.network.measures, oc.models,
                  oc.panel.name, oc.protocol, oc.panel.rows, oc.seconds)
    res["flags"] = flag_counts(oc.flag[np.isfinite(oc.value) | (oc.flag != 2)])
    res["bad_lines"] = oc.panel.bad.summary()
    return res


def flag_counts(flags: np.ndarray) -> dict[str, int]:
    counts = np.bincount(flags.ravel().astype(np.int64), minlength=3)
    return {"ok": int(counts[0]), "erroneous": int(counts[1]), "missing": int(counts[2])}


def table(res: dict) -> str:
    """A short text table: MAE / MSE / n per model and measure."""
    lines = [f"{res['dataset']} · protocol {res['protocol']} · {res['rows']:,} readings · {res['seconds']:.1f} s"]
    for measure, block in res["by_measure"].items():
        lines.append(f"  {measure}")
        best = min(block, key=lambda m: block[m]["mse"])
        for model, e in block.items():
            mark = "  ← best" if model == best else ""
            lines.append(f"    {model:<12} MAE {e['mae']:>11.4f}   MSE {e['mse']:>13.4f}   n {e['n']:>9,}{mark}")
    if any("relative_to" in e for e in res["models"].values()):
        lines.append("  all measures (relative to persistence)")
        for model, e in res["models"].items():
            lines.append(f"    {model:<12} MAE {e['mae']:>8.3f}   MSE {e['mse']:>8.3f}")
    return "\n".join(lines)
