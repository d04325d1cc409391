"""Benchmark ``scaling``: what a reading costs from 45 to 54,000 sensors (copies of the KETI network made by
``sensorcast synth``), offline and in the embedded Spark job, the model bank's state per sensor-measure, and
the fan-out cost of the spatial model's neighbour count k.

Why: the course asked for experimental evidence that the system scales, and sizing a deployment (docs/
operations.md) needs the cost per reading and the memory per sensor. The primary cost figure is CPU time per
reading (the machine is shared: wall time also counts waiting for a core).
"""

from __future__ import annotations

import contextlib
import gc
import io
import tempfile
from pathlib import Path

import numpy as np

from .. import config, evaluate, synth
from ..io import datasets
from ..io.panel import Panel
from ..network import build
from .cost import Cost, measure
from .registry import Check, Result, Table, register
from .report import log

NAME = "scaling"
FIGURE = "bench-scaling.png"
MIB = 2**20
STATE_TARGET = 4096  # bytes per sensor-measure, default models
RATIO_TARGET = 2.0


def source(measure_name: str, days: float) -> Panel:
    """KETI, one measure, ``days`` days from its first UTC midnight: what every copy repeats."""
    return synth.window(datasets.load("keti").select(measures=[measure_name]), days)


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable"):
            return int(line.split()[1]) * 1024
    return 0


def state_bytes(panel: Panel, cfg: dict) -> dict[str, float]:
    """Bytes of the model bank's state arrays per part (engine, each model, detector), whole bank and the
    serialised blob (what the Spark state store keeps), for a fresh engine over the panel's streams (the
    arrays have their final size from the start: nothing grows with time)."""
    eng, _, _ = evaluate.new_engine(build(panel, cfg), cfg)
    parts: dict[str, float] = {}
    for key, arr in eng.state().items():
        part = key.split(".")[0]
        parts[part] = parts.get(part, 0) + arr.nbytes
    return parts | {"total": sum(parts.values()), "serialised": len(eng.to_bytes()), "streams": eng.layout.n}


def offline(panel: Panel, cfg: dict) -> dict:
    """The offline engine as ``sensorcast backtest`` runs it, minus file I/O: protocol online + metrics."""

    def work() -> dict:
        oc = evaluate.run_protocol(panel, cfg, "online", progress=False)
        return evaluate.outcome_metrics(oc)

    cost, res = measure(work)
    return summary(cost, panel) | {"metrics": res}


def summary(cost: Cost, panel: Panel) -> dict:
    rows = panel.rows
    return {"sensors": len(panel.sensors), "streams": len(panel.sensors) * len(panel.measures),
            "steps": len(panel.times), "readings": rows, "wall_s": cost.wall_s, "cpu_s": cost.cpu_s,
            "child_cpu_s": cost.children_cpu_s, "cpu_us": 1e6 * cost.total_cpu_s / rows,
            "wall_us": 1e6 * cost.wall_s / rows, "rss_start": cost.rss_start, "rss_peak": cost.rss_peak,
            "tree_rss_peak": cost.tree_rss_peak, "jvm_cpu_s": cost.children_by_name.get("java", 0.0)}


def marginal(runs: list[dict]) -> list[str]:
    """CPU µs per extra reading from the previous size to this one (fixed per-run and per-step costs cancel)."""
    out = [""]
    for a, b in zip(runs, runs[1:], strict=False):
        extra_us = b["cpu_us"] * b["readings"] - a["cpu_us"] * a["readings"]
        out.append(f"{extra_us / (b['readings'] - a['readings']):.2f}")
    return out


def offline_sizes(src: Panel, cfg: dict, copies: list[int], notes: list[str]) -> list[dict]:
    """One offline run per size; a size whose estimated memory does not fit in what the machine has free
    runs on a shorter window (said in the notes)."""
    runs: list[dict] = []
    offline(src.select(stop=120), cfg)  # warm-up: numba's compiled loop and first-call costs, not reported
    for c in copies:
        panel = synth.synth_panel(src, synth.SynthSpec("keti", c, days=None))
        if runs:
            prev = runs[-1]
            grow = (prev["rss_peak"] - prev["rss_start"]) * panel.rows / prev["readings"] + panel.values.nbytes
            free = mem_available()
            if grow > 0.7 * free:
                keep = max(int(len(panel.times) * 0.7 * free / grow), 0)
                notes.append(f"{len(panel.sensors):,} sensors: the full window would need about {grow / 2**30:.1f} "
                             f"GiB more, {free / 2**30:.1f} GiB are free; ran the first {keep} time steps")
                if keep < 60:
                    break
                panel = panel.select(stop=keep)
        log(NAME, f"offline: {len(panel.sensors):,} sensors × {len(panel.times):,} steps, {panel.rows:,} readings")
        r = offline(panel, cfg) | {"state": state_bytes(panel, cfg)}
        log(NAME, f"  {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, {r['cpu_us']:.2f} µs CPU/reading, "
                  f"peak RSS {r['rss_peak'] / MIB:,.0f} MiB")
        runs.append(r)
        del panel
        gc.collect()
    return runs


def spark_run(src_spec: synth.SynthSpec, tmp: Path, shards: int, master: str) -> dict:
    """``sensorcast run`` (embedded Spark) on a synth folder; its cost including the JVM and Python workers."""
    from .. import run as run_mod

    folder = tmp / f"x{src_spec.copies}-{src_spec.days:g}"
    synth.write(src_spec, folder)
    cfg = config.load(dataset=str(folder / "readings.csv"), format="long-csv",
                      locations=str(folder / "locations.csv"), measures=list(src_spec.measures or ()))
    cfg["spark"].update(master=master, shards=shards, shuffle_partitions=shards)
    cfg["replay"]["slice"] = "hour"
    cfg = config.validate(cfg)
    panel = run_mod.load_panel(cfg)
    with contextlib.redirect_stdout(io.StringIO()):
        cost, res = measure(lambda: run_mod.run(cfg, folder / "run", report=False), children=True)
    return summary(cost, panel) | {"metrics": res, "cfg": cfg, "shards": shards,
                                   "batches": int(np.unique(panel.times.astype("datetime64[h]")).size)}


def agree(a: dict, b: dict) -> float:
    """Largest relative difference between two metrics' MAE/MSE per measure and model (inf if they differ in keys)."""
    worst = 0.0
    if a["by_measure"].keys() != b["by_measure"].keys():
        return float("inf")
    for m, block in a["by_measure"].items():
        for model, e in block.items():
            f = b["by_measure"][m].get(model)
            if f is None or f["n"] != e["n"]:
                return float("inf")
            for key in ("mae", "mse"):
                worst = max(worst, abs(e[key] - f[key]) / max(1.0, abs(e[key])))
    return worst


def spark_sizes(measure_name: str, copies: list[int], hours: float, shards: int,
                master: str) -> tuple[list[dict], float]:
    """Embedded Spark runs per size (after a small run that starts the JVM); and the largest relative difference
    between Spark's and the offline engine's metrics on the second size."""
    runs, diff = [], float("nan")
    with tempfile.TemporaryDirectory(prefix="sensorcast-scaling-") as tmp:
        log(NAME, "spark: warm-up run (starts the JVM; not reported)")
        spark_run(synth.SynthSpec("keti", 1, days=1 / 24, measures=(measure_name,)), Path(tmp), shards, master)
        for c in copies:
            spec = synth.SynthSpec("keti", c, days=hours / 24, measures=(measure_name,))
            log(NAME, f"spark: {c * 45:,} sensors, {hours:g} h")
            r = spark_run(spec, Path(tmp), shards, master)
            log(NAME, f"  {r['wall_s']:.1f} s wall, CPU {r['cpu_s']:.1f} s driver + {r['child_cpu_s']:.1f} s JVM/"
                      f"workers, {r['cpu_us']:.1f} µs CPU/reading")
            if len(runs) == 1:
                from ..run import load_panel

                oc = evaluate.run_protocol(load_panel(r["cfg"]), r["cfg"], "online", progress=False)
                diff = agree(evaluate.outcome_metrics(oc), r["metrics"])
            runs.append({k: v for k, v in r.items() if k != "cfg"})
    return runs, diff


def fanout(src: Panel, copies: int, ks: list[int], shard_counts: list[int]) -> list[dict]:
    """Offline cost, state and Spark fan-out (shards each reading is sent to) per neighbour count k."""
    panel = synth.synth_panel(src, synth.SynthSpec("keti", copies))
    out = []
    for k in ks:
        cfg = config.load(dataset="keti", sets=[f"spatial-rls.neighbours={k}"])
        log(NAME, f"fan-out: k = {k}, {len(panel.sensors):,} sensors")
        r = offline(panel, cfg)
        net = build(panel, cfg)
        fan = {n: float(np.mean([len(v) for v in net.readers_of(n).values()])) for n in shard_counts}
        out.append({"k": k, "cpu_us": r["cpu_us"], "wall_us": r["wall_us"], "state": state_bytes(panel, cfg),
                    "fanout": fan, "readings": r["readings"]})
    return out


# -- report -------------------------------------------------------------------------------------
def _mib(b: float) -> str:
    return f"{b / MIB:,.0f}" if b >= 10 * MIB else f"{b / MIB:,.1f}"


def tables(off: list[dict], spark: list[dict], fan: list[dict], hours: float, shards: int) -> list[Table]:
    base = off[1] if len(off) > 1 else off[0]
    t_off = Table("Offline engine (`evaluate.run_protocol` online + `outcome_metrics`, i.e. `sensorcast backtest` "
                  "without file I/O), KETI temperature copies, one-day window",
                  ["sensors", "time steps", "readings", "wall s", "CPU s", "CPU µs / reading",
                   f"÷ {base['sensors']:,} sensors", "marginal CPU µs / reading",
                   "readings/s (CPU)", "readings/s (wall)", "peak RSS MiB", "RSS added MiB", "RSS added B / reading",
                   "bank state MiB", "state B / sensor-measure"],
                  [[f"{r['sensors']:,}", f"{r['steps']:,}", f"{r['readings']:,}", f"{r['wall_s']:.1f}",
                    f"{r['cpu_s']:.1f}", f"{r['cpu_us']:.2f}", f"{r['cpu_us'] / base['cpu_us']:.2f}×", m,
                    f"{1e6 / r['cpu_us']:,.0f}", f"{r['readings'] / r['wall_s']:,.0f}", _mib(r["rss_peak"]),
                    _mib(r["rss_peak"] - r["rss_start"]), f"{(r['rss_peak'] - r['rss_start']) / r['readings']:,.0f}",
                    _mib(r["state"]["total"]),
                    f"{r['state']['total'] / r['state']['streams']:,.0f}"]
                   for r, m in zip(off, marginal(off), strict=True)])
    out = [t_off]
    if spark:
        sb = spark[1] if len(spark) > 1 else spark[0]
        out.append(Table(f"Embedded Spark job (`sensorcast run` machinery, local[2], {shards} shards, one micro-batch "
                         f"per hour), KETI temperature copies, {hours:g}-hour window",
                         ["sensors", "readings", "micro-batches", "wall s", "CPU s driver", "CPU s JVM",
                          "CPU s Python workers", "CPU µs / reading", f"÷ {sb['sensors']:,} sensors",
                          "marginal CPU µs / reading", "wall µs / reading", "readings/s (wall)",
                          "peak RSS MiB (all processes)"],
                         [[f"{r['sensors']:,}", f"{r['readings']:,}", f"{r['batches']}", f"{r['wall_s']:.1f}",
                           f"{r['cpu_s']:.1f}", f"{r['jvm_cpu_s']:.1f}", f"{r['child_cpu_s'] - r['jvm_cpu_s']:.1f}",
                           f"{r['cpu_us']:.1f}", f"{r['cpu_us'] / sb['cpu_us']:.2f}×", m, f"{r['wall_us']:.1f}",
                           f"{r['readings'] / r['wall_s']:,.0f}", _mib(r["tree_rss_peak"])]
                          for r, m in zip(spark, marginal(spark), strict=True)]))
    st = off[-1]["state"]
    parts = [p for p in st if p not in ("total", "serialised", "streams")]
    out.append(Table(f"Model bank state per sensor-measure (default models, k = 4 neighbours; "
                     f"{off[-1]['sensors']:,} sensors)", ["part", "bytes / sensor-measure", "share"],
                     [[p, f"{st[p] / st['streams']:,.0f}", f"{st[p] / st['total']:.0%}"] for p in parts]
                     + [["whole bank (arrays)", f"{st['total'] / st['streams']:,.0f}", "100%"],
                        ["serialised (`Engine.to_bytes`, Spark state)",
                         f"{st['serialised'] / st['streams']:,.0f}", ""]]))
    if fan:
        ref = next((f for f in fan if f["k"] == 4), fan[0])
        shard_counts = list(fan[0]["fanout"])
        out.append(Table(f"Spatial fan-out vs neighbour count k ({fan[0]['state']['streams']:,} sensors, offline; "
                         "Spark fan-out = shards each reading is routed to, hash sharding)",
                         ["k", "CPU µs / reading", "÷ k = 4", "state B / sensor-measure", "of it spatial-rls",
                          *[f"fan-out, {n} shards" for n in shard_counts]],
                         [[str(f["k"]), f"{f['cpu_us']:.2f}", f"{f['cpu_us'] / ref['cpu_us']:.2f}×",
                           f"{f['state']['total'] / f['state']['streams']:,.0f}",
                           f"{f['state']['spatial-rls'] / f['state']['streams']:,.0f}",
                           *[f"{f['fanout'][n]:.2f}" for n in shard_counts]] for f in fan]))
    return out


def plot(path: Path, off: list[dict], spark: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    for runs, label, color in ((off, "offline engine", "#2b6cb0"), (spark, "embedded Spark, local[2]", "#dd6b20")):
        if not runs:
            continue
        x = [r["sensors"] for r in runs]
        a.plot(x, [r["cpu_us"] for r in runs], "o-", color=color, label=f"{label}: CPU")
        a.plot(x, [r["wall_us"] for r in runs], "s--", color=color, alpha=0.5, label=f"{label}: wall")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("sensors (KETI temperature copies, log)")
    a.set_ylabel("µs per reading (log)")
    a.set_title("Cost per reading vs network size\n(flat = linear scaling; CPU is the figure that counts)",
                fontsize=10)
    a.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    x = [r["sensors"] for r in off]
    b.plot(x, [r["rss_peak"] / MIB for r in off], "o-", color="#2b6cb0", label="offline: peak RSS")
    b.plot(x, [r["state"]["total"] / MIB for r in off], "^-", color="#38a169", label="model bank state")
    if spark:
        b.plot([r["sensors"] for r in spark], [r["tree_rss_peak"] / MIB for r in spark], "o-", color="#dd6b20",
               label="Spark: peak RSS, all processes")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("sensors (log)")
    b.set_ylabel("MiB (log)")
    b.set_title("Memory vs network size", fontsize=10)
    b.grid(True, which="both", alpha=0.3)
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@register(NAME, order=50, summary="cost per reading, memory and state from 45 to 54,000 sensors (KETI copies), "
          "offline and embedded Spark; fan-out vs neighbour count k")
def run(out: Path, copies: str = "1,12,120,1200", measure_name: str = "temperature", days: float = 1.0,
        spark_copies: str = "1,12,120", spark_hours: float = 6.0, shards: int = 2, master: str = "local[2]",
        fan_copies: int = 12, ks: str = "1,4,8,16", shard_counts: str = "2,4,8", figure: bool = True) -> Result:
    """``copies`` etc. are comma-separated lists (``--set scaling.copies=1,12``); ``spark_copies=''`` skips Spark."""

    def ints(text: str | int) -> list[int]:
        return [int(v) for v in str(text).split(",") if str(v).strip()]

    cfg = config.load(dataset="keti")
    src = source(measure_name, days)
    notes: list[str] = []
    off = offline_sizes(src, cfg, ints(copies), notes)
    spark, diff = spark_sizes(measure_name, ints(spark_copies), spark_hours, shards, master) \
        if ints(spark_copies) else ([], float("nan"))
    fan = fanout(src, fan_copies, ints(ks), ints(shard_counts)) if ints(ks) else []

    res = Result(NAME, f"scaling from {off[0]['sensors']} to {off[-1]['sensors']:,} sensors (KETI copies, "
                       f"{measure_name})")
    res.tables = tables(off, spark, fan, spark_hours, shards)
    ratio = off[-1]["cpu_us"] / off[min(1, len(off) - 1)]["cpu_us"]
    res.checks = [Check(f"offline CPU per reading, {off[-1]['sensors']:,} ÷ {off[min(1, len(off) - 1)]['sensors']:,} "
                        "sensors", ratio, f"≤ {RATIO_TARGET:g}×", ratio <= RATIO_TARGET, "×")]
    if len(spark) > 1:
        sr = spark[-1]["cpu_us"] / spark[1]["cpu_us"]
        res.checks.append(Check(f"Spark CPU per reading, {spark[-1]['sensors']:,} ÷ {spark[1]['sensors']:,} sensors",
                                sr, f"≤ {RATIO_TARGET:g}×", sr <= RATIO_TARGET, "×"))
        res.checks.append(Check(f"Spark and offline metrics agree ({spark[1]['sensors']:,} sensors): largest "
                                "relative MAE/MSE difference", diff, "≤ 1e-6", diff <= 1e-6))
    per = off[-1]["state"]["total"] / off[-1]["state"]["streams"]
    res.checks.append(Check("model bank state per sensor-measure, default models", per, f"≤ {STATE_TARGET:,} B",
                            per <= STATE_TARGET, " B"))
    res.notes = notes + notes_text(off, spark, fan, src, days, spark_hours)
    if figure:
        plot(Path(out) / FIGURE, off, spark)
        res.figures = [FIGURE]
    res.data = {"offline": [{k: v for k, v in r.items() if k != "metrics"} for r in off],
                "spark": [{k: v for k, v in r.items() if k != "metrics"} for r in spark], "fanout": fan,
                "spark_offline_diff": diff}
    return res


def notes_text(off: list[dict], spark: list[dict], fan: list[dict], src: Panel, days: float, hours: float) -> list[str]:
    k_cost = ""
    if fan:
        by_k = {f["k"]: f for f in fan}
        if 4 in by_k and max(by_k) != 4:
            big = by_k[max(by_k)]
            k_cost = (f" At k = {big['k']} a reading costs {big['cpu_us'] / by_k[4]['cpu_us']:.1f}× as much as at the "
                      f"default k = 4 and the state is {big['state']['total'] / big['state']['streams']:,.0f} B per "
                      "sensor-measure: the neighbourhood Kalman filter keeps (k + 2)² covariances and (k + 1)² "
                      "moment sums per stream, so state and cost grow with k², not with the number of sensors.")
    return [
        f"Input: `sensorcast synth --from keti --copies N` in memory (`synth.synth_panel`, the same copies the CLI "
        f"writes): the {len(src.sensors)} KETI rooms' {src.measures[0]} series, {days:g} day(s) from "
        f"{src.times[0]} UTC ({len(src.times):,} one-minute steps), each copy shifted 0–2 steps, 0.5 % noise, its "
        "own tile of the floor plan; real gaps and faulty readings kept. One measure, so sensors = sensor-measures; "
        "the offline runs use the same window at every size, so the cost per reading compares like with like.",
        "Cost: CPU seconds of the process (user + system) over the run, divided by the readings; for Spark the "
        "CPU of the JVM and its Python workers (read from /proc for the process tree) is added to the driver's. "
        "Wall time is shown but inflated by the shared machine (the load average is in the header). Peak RSS is "
        "the process's resident set sampled during the run (it includes what earlier runs of this benchmark "
        "left); 'RSS added' is peak minus the RSS at the start of the run.",
        "The offline backtest keeps every step's outputs (predictions of all models, value, flag, z: 57 B per "
        "sensor-measure and step) and builds the scored points' errors at the end, so its memory grows with "
        "readings ('RSS added B / reading'); the engine state itself is the 'bank state' column and grows with "
        "sensors only. The Spark job keeps only the state (and one micro-batch).",
        f"Spark: the data set is written as long CSV + locations by `synth.write` and read by the replay source; "
        f"the window is {hours:g} hour(s) (one micro-batch per hour); a first small run starts the JVM and is not "
        "reported. Wall and CPU include reading the CSV (twice: driver and replay source), the Parquet sink and "
        "scoring the forecast rows. 'CPU s JVM' also holds Python processes the JVM started and reaped itself "
        "(not the pyspark daemon's workers, which are 'Python workers').",
        "Neighbours: above 2,000 sensors `io.locations.neighbours` uses a cell search (`nearest_planar`, same "
        "result as the full distance matrix, which would need 46 GB at 54,000 sensors)." + k_cost,
    ]
