"""Benchmark ``model-bank``: the RLS bank (all streams of a step in one compiled call) vs padasip's FilterRLS
and River's LinearRegression, updated per record on the same real streams (all KETI rooms × 4 measures,
spatial-rls regressors)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import config
from ..io import datasets
from ..io.panel import Panel
from . import engines
from .memory import traced_peak
from .registry import Check, Result, Table, register
from .report import log
from .streams import Streams, from_panel

NAME = "model-bank"
MEASURES = "co2,humidity,light,temperature"  # pir (motion counts, mostly 0) left out
TARGET_RATIO = 20.0
SANITY_TOL = 1e-6
FIGURE = "bench-model-bank.png"


def sanity(s: Streams, forgetting: float, delta: float, steps: int) -> dict:
    """Run the bank and padasip on the first ``steps`` steps with the same λ, δ and records; compare weights.

    The bank's two safety nets are switched off here so the recursions are the same: the trace bound
    (``max_trace=inf``) and the Huber clip (its error counter is held below the 10-sample warm-up, during
    which the bank does not clip). Its covariance symmetrisation stays on.
    """
    s = s.head(steps)
    bank = engines.BankEngine(s, forgetting, delta, max_trace=np.inf)
    pad = engines.PadasipEngine(s, forgetting, delta)
    pad.prepare(steps)
    with np.errstate(all="ignore"):
        for t in range(steps):
            bank.step(t)
            bank.bank.err_n[:] = 0
            pad.step(t)
    wb, wp = bank.weights(), pad.weights()
    diff = np.abs(wb - wp) / (1.0 + np.abs(wp))
    return {"steps": steps, "updates": s.updates(), "max_rel_diff": float(np.nanmax(diff)),
            "max_abs_weight": float(np.abs(wp).max()), "resets": bank.bank.resets,
            "finite": bool(np.isfinite(wb).all() and np.isfinite(wp).all())}


def summarise(engine, s: Streams, rounds: list[np.ndarray], rec_ns: np.ndarray | None) -> dict:
    """Figures of one engine from its timed rounds (step times, ns) over the same first steps.

    Throughput is the median over rounds (the machine is shared: rounds of the engines are interleaved, so a
    busy spell hits all of them); step latencies pool every round's steps.
    """
    steps = len(rounds[0])
    n_upd = s.mask[:steps].sum(axis=1)
    updates = int(n_upd.sum())
    rates = np.array([updates / (r.sum() / 1e9) for r in rounds])
    pooled = np.concatenate(rounds)
    if rec_ns is None:  # a batch has no per-record latency: its step time over the records in it
        busy = np.tile(n_upd > 0, len(rounds))
        rec_ns = pooled[busy] / np.tile(n_upd, len(rounds))[busy]
    return {"engine": engine.name, "label": engine.label, "steps": steps, "updates": updates, "rounds": len(rounds),
            "updates_per_s": float(np.median(rates)), "rate_min": float(rates.min()), "rate_max": float(rates.max()),
            "seconds": float(np.median([r.sum() for r in rounds])) / 1e9,
            "step_mean_us": pooled.mean() / 1e3, "step_p99_us": float(np.percentile(pooled, 99)) / 1e3,
            "record_mean_us": float(rec_ns.mean()) / 1e3, "record_p99_us": float(np.percentile(rec_ns, 99)) / 1e3}


def memory(engine, steps: int) -> dict:
    """tracemalloc peak while fresh models are made and run ``steps`` steps (inputs already laid out)."""
    peak, held, _ = traced_peak(lambda: (engine.reset(), [engine.step(t) for t in range(steps)]))
    return {"peak_bytes": peak, "state_bytes": held, "mem_steps": steps}


def compare(s: Streams, lam: float, delta: float, steps: int, rounds: int, latency_steps: int,
            mem_steps: int) -> list[dict]:
    """Bank, padasip and River on the first ``steps`` steps, ``rounds`` interleaved rounds each."""
    engs = [engines.BankEngine(s, lam, delta), engines.PadasipEngine(s, lam, delta), engines.RiverEngine(s)]
    for e in engs:
        e.prepare(steps)
    times: dict[str, list[np.ndarray]] = {e.name: [] for e in engs}
    t0, c0 = time.perf_counter(), time.process_time()
    with np.errstate(all="ignore"):
        for r in range(rounds):
            for e in engs:
                e.reset()
                times[e.name].append(engines.time_steps(e, steps))
                rate = s.updates(steps) / (times[e.name][-1].sum() / 1e9)
                log(NAME, f"round {r + 1}/{rounds}: {e.name:8s} {rate:12,.0f} updates/s")
        share = (time.process_time() - c0) / (time.perf_counter() - t0)
        out = []
        for e in engs:
            rec = None
            if e.per_record:
                e.reset()
                rec = engines.time_records(e, latency_steps)
            out.append(summarise(e, s, times[e.name], rec) | memory(e, mem_steps) | {"cpu_share": share})
    return out


def scaling(s: Streams, forgetting: float, delta: float, copies: list[int], steps: int) -> list[dict]:
    """The bank's per-record cost as the bank grows (the KETI streams repeated along the stream axis)."""
    out = []
    for c in copies:
        st = s.head(steps).tiled(c)
        eng = engines.BankEngine(st, forgetting, delta)
        ns = engines.time_steps(eng, steps)
        upd = st.updates()
        out.append({"copies": c, "streams": st.n, "updates": upd, "updates_per_s": upd / (ns.sum() / 1e9),
                    "record_ns": ns.sum() / upd, "step_mean_us": ns.mean() / 1e3})
    return out


def _f(v: float, digits: int = 3) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def tables(rows: list[dict], base: dict, full: dict, s: Streams, scale: list[dict], extrap: dict) -> list[Table]:
    cols = ["engine", "steps timed", "updates", "updates/s", "min–max over rounds", "step mean µs", "step p99 µs",
            "record mean µs", "record p99 µs", "peak mem KiB", "throughput bank ÷ this", "p99 step latency this ÷ bank",
            "peak mem this ÷ bank"]
    out = []
    for r in [base, *rows]:
        out.append([r["label"] + (" ¹" if r is base else ""), f"{r['steps']:,}", f"{r['updates']:,}",
                    f"{r['updates_per_s']:,.0f}", f"{r['rate_min']:,.0f}–{r['rate_max']:,.0f}",
                    _f(r["step_mean_us"]), _f(r["step_p99_us"]), _f(r["record_mean_us"]), _f(r["record_p99_us"]),
                    f"{r['peak_bytes'] / 1024:,.0f}",
                    f"{base['updates_per_s'] / r['updates_per_s']:.1f}×",
                    f"{r['step_p99_us'] / base['step_p99_us']:.1f}×", f"{r['peak_bytes'] / base['peak_bytes']:.2f}×"])
    main = Table(f"RLS update of {s.n} streams × {s.p} regressors (k = {s.k} neighbours + intercept), "
                 f"same steps for all three", cols, out)
    full_t = Table(f"The bank over the whole data set ({full['steps']:,} steps), and the per-record engines "
                   "extrapolated to it at their measured rate",
                   ["engine", "updates", "updates/s", "wall s (measured or extrapolated)", "step mean µs",
                    "step p99 µs"],
                   [[full["label"], f"{full['updates']:,}", f"{full['updates_per_s']:,.0f}", f"{full['seconds']:.2f}",
                     _f(full["step_mean_us"]), _f(full["step_p99_us"])]]
                   + [[r["label"] + " (extrapolated)", f"{full['updates']:,}", f"{r['updates_per_s']:,.0f}",
                       f"{extrap[r['engine']]:.1f}", "", ""] for r in rows])
    scale_t = Table("Bank size vs per-record cost (the KETI streams repeated; per-record engines cost the same "
                    "per record at any size)", ["streams", "updates/s", "ns per record", "step mean µs",
                                                 "vs padasip", "vs River"],
                    [[f"{c['streams']:,}", f"{c['updates_per_s']:,.0f}", f"{c['record_ns']:,.0f}",
                      _f(c["step_mean_us"]),
                      f"{c['updates_per_s'] / rows[0]['updates_per_s']:.1f}×",
                      f"{c['updates_per_s'] / rows[1]['updates_per_s']:.1f}×"] for c in scale])
    return [main, full_t, scale_t]


def plot(path: Path, base: dict, rows: list[dict], scale: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
    names = ["sensorcast\nRLSBank", "padasip\nFilterRLS", "River\nLinearRegression"]
    vals = [base["updates_per_s"], *(r["updates_per_s"] for r in rows)]
    bars = a.bar(names, vals, color=["#2b6cb0", "#dd6b20", "#38a169"])
    a.set_yscale("log")
    a.set_ylabel("updates / s (log)")
    a.set_title(f"RLS updates/s, {base['n']} KETI streams × {base['p']} regressors\n"
                f"(median of {base['rounds']} rounds of {base['steps']:,} steps; libraries one record at a time)",
                fontsize=10)
    for bar, v in zip(bars, vals, strict=True):
        a.text(bar.get_x() + bar.get_width() / 2, v * 1.1, f"{v:,.0f}\n({base['updates_per_s'] / v:.1f}× slower)"
               if v != vals[0] else f"{v:,.0f}", ha="center", va="bottom", fontsize=8)
    a.axhline(vals[0] / TARGET_RATIO, color="grey", ls=":",
              label=f"bank ÷ {TARGET_RATIO:.0f} (target: libraries below)")
    a.legend(fontsize=7, loc="upper right")
    a.set_ylim(min(vals[0] / TARGET_RATIO, *vals) / 3, max(vals) * 8)
    b.plot([c["streams"] for c in scale], [c["updates_per_s"] for c in scale], "o-", color="#2b6cb0",
           label="RLSBank")
    for r, col in zip(rows, ["#dd6b20", "#38a169"], strict=True):
        b.axhline(r["updates_per_s"], color=col, ls="--", label=r["label"].split(" (")[0])
    b.axhline(TARGET_RATIO * max(r["updates_per_s"] for r in rows), color="grey", ls=":",
              label=f"{TARGET_RATIO:.0f}× the faster library")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xticks([c["streams"] for c in scale], [f"{c['streams']:,}" for c in scale])
    b.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    b.set_xlabel("streams in the bank (log)")
    b.set_ylabel("updates / s (log)")
    b.set_title("Bank size vs throughput", fontsize=10)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@register(NAME, order=10, summary="RLSBank updates/s, latency, memory vs padasip FilterRLS and River LinearRegression")
def run(out: Path, panel: Panel | None = None, measures: str = MEASURES, bank_steps: int = 0,
        record_steps: int = 1000, rounds: int = 5, latency_steps: int = 300, mem_steps: int = 100,
        sanity_steps: int = 300, scale_copies: str = "1,10,40", scale_steps: int = 300, figure: bool = True) -> Result:
    """``bank_steps`` 0: every step of the data set. ``panel``: an already loaded panel (tests use a slice)."""
    cfg = config.load(dataset="keti")
    sp = cfg["models"]["spatial-rls"]
    lam, delta = float(sp["forgetting"]), float(sp["delta"])
    meas = [m.strip() for m in measures.split(",") if m.strip()]
    if panel is None:
        log(NAME, "loading KETI")
        panel = datasets.load("keti")
    s = from_panel(panel, cfg, meas)
    n_rooms = s.n // len(meas)
    log(NAME, f"{n_rooms} rooms × {len(meas)} measures ({', '.join(meas)}) = {s.n} streams, {s.steps:,} steps, "
              f"{s.updates():,} records, {s.p} regressors; λ = {lam}, δ = {delta}")
    bank_steps = min(bank_steps or s.steps, s.steps)
    record_steps = min(record_steps, bank_steps)
    latency_steps, mem_steps = min(latency_steps, record_steps), min(mem_steps, record_steps)

    log(NAME, f"sanity: bank vs padasip weights over {min(sanity_steps, s.steps)} steps")
    san = sanity(s, lam, delta, min(sanity_steps, s.steps))
    log(NAME, f"sanity: max relative weight difference {san['max_rel_diff']:.2e}, resets {san['resets']}")

    log(NAME, f"bank, padasip and River interleaved: {rounds} rounds of {record_steps:,} steps × "
              f"{s.n} streams (the libraries one record at a time)")
    base, *rows = compare(s, lam, delta, record_steps, rounds, latency_steps, mem_steps)
    base |= {"n": s.n, "p": s.p}
    log(NAME, f"bank over all {bank_steps:,} steps")
    bank = engines.BankEngine(s, lam, delta)
    with np.errstate(all="ignore"):
        full = summarise(bank, s, [engines.time_steps(bank, bank_steps)], None)
    log(NAME, f"bank: {full['updates_per_s']:,.0f} updates/s over the whole data set")
    copies = [int(c) for c in scale_copies.split(",") if c.strip()]
    scale_steps = min(scale_steps, s.steps)
    log(NAME, f"bank size scaling: {', '.join(str(c * s.n) for c in copies)} streams × {scale_steps} steps")
    scale = scaling(s, lam, delta, copies, scale_steps)
    extrap = {r["engine"]: full["updates"] / r["updates_per_s"] for r in rows}

    ratios = {r["engine"]: base["updates_per_s"] / r["updates_per_s"] for r in rows}
    res = Result(NAME, f"model-bank update throughput vs per-record padasip and River ({s.n} KETI streams)")
    res.tables = tables(rows, base, full, s, scale, extrap)
    res.checks = [Check(f"throughput bank ÷ {r['label'].split(' (')[0]}", ratios[r["engine"]], f"≥ {TARGET_RATIO:.0f}×",
                        ratios[r["engine"]] >= TARGET_RATIO, "×") for r in rows]
    res.checks.append(Check(f"sanity: bank vs padasip weights after {san['steps']} steps ({san['updates']:,} "
                            "updates), max |Δw| / (1 + |w|)", san["max_rel_diff"], f"≤ {SANITY_TOL:g}, no resets",
                            san["finite"] and san["max_rel_diff"] <= SANITY_TOL and san["resets"] == 0))
    res.notes = [
        f"Input: KETI, {n_rooms} rooms × {', '.join(meas)} (pir, mostly zero motion counts, left out), built once "
        f"by `sensorcast.bench.streams.from_panel`: the spatial-rls tracking regressors, k = {s.k} nearest rooms "
        "from `network.build` (carried-forward readings relative to the stream's last value, over the measure's "
        "scale) + intercept; target the step's change. Readings outside the detection ranges are dropped. Every "
        "engine gets the same records; a missing reading is skipped by all three.",
        f"Same λ = {lam} and δ = {delta} (spatial-rls defaults) for the bank and padasip (mu = λ, eps = 1/δ, w = "
        "zeros). River's LinearRegression is SGD (its defaults: lr 0.01, squared loss), the k neighbour terms as "
        "features and its own intercept as the constant: River has no RLS.",
        "An update is one record learned (each library computes its prediction inside it). The bank runs "
        "`RLSBank.learn` once per time step over all streams, with its production settings (Huber clip, "
        "symmetrised covariance, trace bound): one call into a numba-compiled loop over the step's rows; "
        "the per-record engines call `adapt` / `learn_one` once per record. "
        "Inputs are laid out for each library before its timed loop (row views for padasip, dicts for River).",
        f"Timed window: the first {record_steps:,} steps for all three, in {rounds} interleaved rounds (bank, "
        "padasip, River, bank, …) with fresh models each round; updates/s is the median round (min–max shown), "
        f"the ratios are of medians. During the rounds this process got {base['cpu_share']:.0%} of a core (CPU "
        "time ÷ wall time; below 100 % the shared machine made it wait; interleaving spreads that over all engines). "
        f"The bank also ran once over all {bank_steps:,} steps. Step latency: wall "
        f"time of one time step ({s.n} streams), all rounds pooled. Record latency: for the libraries each call "
        f"timed alone over {latency_steps} steps (includes ~50 ns of timer overhead); ¹ for the bank a step's "
        "time divided by its records (amortised: a record waits for its whole step).",
        f"Peak memory: tracemalloc peak (NumPy arrays included) while fresh models are made and run for "
        f"{mem_steps} steps, inputs excluded; models' state held at the end: "
        + ", ".join(f"{r['engine']} {r['state_bytes'] / 1024:,.0f} KiB" for r in [base, *rows]) + ".",
        f"Sanity run: the bank with its trace bound off and its Huber clip held off (so both compute plain "
        f"exponentially weighted RLS); max |w| there {san['max_abs_weight']:.3g}.",
    ]
    if figure:
        plot(Path(out) / FIGURE, base, rows, scale)
        res.figures = [FIGURE]
    res.data = {"sanity": san, "bank_full": full, "bank": base, "per_record": rows, "ratios": ratios,
                "scaling": scale, "streams": s.n, "regressors": s.p, "measures": meas}
    return res
