"""``sensorcast report DIR``: an HTML page with PNG plots from a run's or backtest's outputs.

Per plotted sensor and measure: one panel per model and day, prediction vs actual, the day's MSE in
the title (as the course asked), erroneous readings and filled gaps marked. Then the daily MSE table
per measure and a daily-MSE plot.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from .forecasts import pred_column  # noqa: E402

COLORS = {"persistence": "#7f7f7f", "ema": "#2ca02c", "ar-rls": "#1f77b4", "spatial-rls": "#9467bd",
          "ensemble": "#d62728"}
MAX_DAYS = 8


def load_forecasts(folder: Path) -> pd.DataFrame:
    path = folder / "forecasts"
    if not path.exists():
        path = folder / "forecasts.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{folder}: no forecasts/ (sensorcast run) or forecasts.parquet "
                                "(sensorcast backtest --forecasts)")
    frame = pd.read_parquet(path)
    return frame.drop(columns=[c for c in ("batch_id",) if c in frame.columns])


def pick_sensors(frame: pd.DataFrame, measure: str, n: int) -> list[str]:
    """The n sensors of a measure with the most flagged or filled points (ties by name)."""
    sub = frame[frame.measure == measure]
    bad = (sub.flag != "ok").groupby(sub.sensor).sum()
    return sorted(bad.index, key=lambda s: (-bad[s], s))[:n]


def scored_rows(frame: pd.DataFrame, ranges: dict) -> pd.Series:
    """Rows with a real reading inside the hard range (the points errors are measured on)."""
    lo = frame.measure.map(lambda m: ranges.get(m, [-np.inf, np.inf])[0]).astype(float)
    hi = frame.measure.map(lambda m: ranges.get(m, [-np.inf, np.inf])[1]).astype(float)
    return frame.actual.notna() & (frame.actual >= lo) & (frame.actual <= hi)


def y_limits(sub: pd.DataFrame, models: list[str]) -> tuple[float, float]:
    """The plotted range: good readings and fills (not faulty readings, which would squash the plot)."""
    vals = pd.concat([sub.actual[sub.scored], sub.value] + [sub[pred_column(m)] for m in models])
    lo, hi = np.nanpercentile(vals.to_numpy(float), [0.1, 99.9]) if vals.notna().any() else (0.0, 1.0)
    pad = 0.08 * (hi - lo) or 1.0
    return float(lo - pad), float(hi + pad)


def plot_sensor(sub: pd.DataFrame, models: list[str], sensor: str, measure: str, path: Path) -> None:
    """One row per model, one column per day; readings outside the hard range are drawn as red marks
    on the frame's edge (their value is written in the legend) and their fill as a red cross."""
    days = sorted(sub.day.unique())[:MAX_DAYS]
    fig, axes = plt.subplots(len(models), len(days), figsize=(2.6 * len(days) + 1, 1.9 * len(models) + 0.6),
                             squeeze=False, sharey=True)
    lo, hi = y_limits(sub, models)
    for c, day in enumerate(days):
        d = sub[sub.day == day]
        err = d[d.flag == "erroneous"]
        miss = d[d.flag == "missing"]
        faulty = d[d.actual.notna() & ~d.scored]
        good = d.actual.where(d.scored)
        for r, model in enumerate(models):
            ax = axes[r, c]
            ax.set_ylim(lo, hi)
            ax.plot(d.ts, good, color="black", lw=0.8, label="actual")
            if len(faulty):
                edge = np.clip(faulty.actual, lo, hi)
                ax.scatter(faulty.ts, edge, s=10, marker="|", color="red", clip_on=False,
                           label="faulty reading (off scale)", zorder=3)
            ax.plot(d.ts, d[pred_column(model)], color=COLORS.get(model, "C0"), lw=0.8, label=model)
            if len(miss):
                ax.scatter(miss.ts, miss.value, s=3, color="orange", lw=0, label="missing → filled", zorder=3)
            if len(err):
                ax.scatter(err.ts, err.value, s=3, color="red", lw=0, label="erroneous → filled", zorder=3)
            sc = d[d.scored]
            mse = float(((sc[pred_column(model)] - sc.actual) ** 2).mean()) if len(sc) else float("nan")
            ax.set_title(f"{model} · {str(day)[5:10]} · MSE {mse:.3g}", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_xticks([])
            if c == 0:
                ax.set_ylabel(measure, fontsize=7)
    legend: dict = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(lab, h)
    fig.legend(legend.values(), legend.keys(), loc="lower center", ncol=len(legend), fontsize=7)
    fig.suptitle(f"sensor {sensor} · {measure}: prediction vs actual per model and day", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_daily(metrics: dict, path: Path) -> None:
    per_day = metrics["per_day"]
    fig, axes = plt.subplots(1, len(per_day), figsize=(4.2 * len(per_day), 3.2), squeeze=False)
    for ax, (measure, days) in zip(axes[0], per_day.items(), strict=True):
        keys = sorted(days)
        for model in next(iter(days.values())):
            ax.plot(range(len(keys)), [days[k][model]["mse"] for k in keys], marker=".",
                    color=COLORS.get(model), label=model)
        ax.set_yscale("log")
        ax.set_title(f"{measure}: daily MSE", fontsize=9)
        ax.set_xticks(range(len(keys)), [k[5:] for k in keys], rotation=60, fontsize=6)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def daily_table(metrics: dict) -> str:
    parts = []
    for measure, days in metrics["per_day"].items():
        models = list(next(iter(days.values())))
        head = "".join(f"<th>{html.escape(m)}</th>" for m in models)
        rows = []
        for day in sorted(days):
            best = min(models, key=lambda m: days[day][m]["mse"])
            cells = "".join(f"<td class='{'best' if m == best else ''}'>{days[day][m]['mse']:.4g}</td>"
                            for m in models)
            rows.append(f"<tr><td>{day}</td>{cells}<td>{days[day][models[0]]['n']:,}</td></tr>")
        parts.append(f"<h3>{html.escape(measure)}</h3><table><tr><th>day</th>{head}<th>n</th></tr>"
                     + "".join(rows) + "</table>")
    return "\n".join(parts)


def folder_config(folder: Path) -> dict:
    """The run's ``config.yaml`` in the folder ({} if none)."""
    return yaml.safe_load((folder / "config.yaml").read_text()) if (folder / "config.yaml").exists() else {}


def write_report(folder: str | Path, sensors: list[str] | None = None, per_measure: int = 2,
                 frame: pd.DataFrame | None = None, metrics: dict | None = None) -> Path:
    """Write ``folder/report.html`` and ``folder/plots/*.png``; returns the HTML path. The forecast rows and
    metrics are the folder's (``forecasts/``, ``metrics.json``) unless given (e.g. read back from OpenTSDB)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics = metrics if metrics is not None else json.loads((folder / "metrics.json").read_text())
    ranges = (folder_config(folder).get("detection") or {}).get("ranges", {})
    frame = load_forecasts(folder) if frame is None else frame.copy()
    models = [m for m in COLORS if pred_column(m) in frame.columns]
    frame["day"] = frame.ts.dt.floor("D")
    frame["scored"] = scored_rows(frame, ranges)
    plots = folder / "plots"
    plots.mkdir(exist_ok=True)
    figures = []
    for measure in sorted(frame.measure.unique()):
        chosen = sensors or pick_sensors(frame, measure, per_measure)
        for sensor in chosen:
            sub = frame[(frame.measure == measure) & (frame.sensor == sensor)].sort_values("ts")
            if sub.empty:
                continue
            name = f"{measure}-{sensor}.png".replace("/", "_")
            plot_sensor(sub, models, sensor, measure, plots / name)
            counts = sub.flag.value_counts()
            figures.append(f"<figure><img src='plots/{html.escape(name)}' alt='{html.escape(name)}'>"
                           f"<figcaption>sensor {html.escape(sensor)}, {html.escape(measure)}: "
                           f"{counts.get('erroneous', 0)} erroneous, {counts.get('missing', 0)} filled"
                           "</figcaption></figure>")
    plot_daily(metrics, plots / "daily-mse.png")
    summary = "".join(
        f"<tr><td>{html.escape(m)}</td>" + "".join(
            f"<td>{e['mae']:.4g}</td><td>{e['mse']:.4g}</td>" for e in [metrics["models"][m]]) + "</tr>"
        for m in metrics["models"])
    rel = " (relative to persistence, averaged over measures)" if any(
        "relative_to" in e for e in metrics["models"].values()) else ""
    flags = metrics.get("flags", {})
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>sensorcast report: {html.escape(metrics['dataset'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1500px}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}} td.best{{background:#d9f2d9;font-weight:bold}}
figure{{margin:1em 0}} img{{max-width:100%}}</style></head><body>
<h1>sensorcast · {html.escape(metrics['dataset'])} · protocol {html.escape(metrics['protocol'])}</h1>
<p>{metrics['rows']:,} readings · {metrics['seconds']:.1f} s · engine {html.escape(metrics.get('engine', '?'))} ·
flags: {flags.get('ok', 0):,} ok, {flags.get('erroneous', 0):,} erroneous,
{flags.get('missing', 0):,} missing and filled ·
bad input lines: {sum(metrics.get('bad_lines', {}).values())}</p>
<h2>Models{rel}</h2><table><tr><th>model</th><th>MAE</th><th>MSE</th></tr>{summary}</table>
<h2>Daily MSE</h2><img src="plots/daily-mse.png" alt="daily MSE">
{daily_table(metrics)}
<h2>Predictions vs actual</h2>
<p>Black: actual reading; colour: the model's one-step prediction; orange dots: filled values where the
sensor was silent; red dots: erroneous readings (out of range or an outlier), replaced by the fill; red ticks
on the frame: readings outside the hard range (not ground truth, off the plotted scale).</p>
{''.join(figures)}
<script>window.addEventListener("load",()=>{{const i=[...document.images];
document.body.dataset.images=i.filter(x=>x.complete&&x.naturalWidth>0).length+"/"+i.length;}});</script>
</body></html>"""
    out = folder / "report.html"
    out.write_text(page)
    return out
