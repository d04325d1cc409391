"""Forecast rows (design §3) from engine outputs: one builder for the offline and the Spark paths,
so both write the same columns with the same rules."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .models.detection import FLAG_NAMES

BASE_COLUMNS = ["ts", "epoch", "sensor", "measure", "actual"]
TAIL_COLUMNS = ["chosen", "value", "flag", "residual_z"]


def pred_column(model: str) -> str:
    """Parquet column of a model's prediction (``ar-rls`` → ``pred_ar_rls``)."""
    return "pred_" + model.replace("-", "_")


def columns(models: list[str]) -> list[str]:
    return BASE_COLUMNS + [pred_column(m) for m in models] + TAIL_COLUMNS


def frame(ts: np.ndarray, epochs: np.ndarray, sensors: np.ndarray, measures: np.ndarray,
          models: list[str], chosen: str, preds: np.ndarray, actual: np.ndarray, value: np.ndarray,
          flag: np.ndarray, z: np.ndarray) -> pd.DataFrame:
    """Rows for T steps × N streams where there is a reading or a filled value.

    ``ts``/``epochs`` (T,), ``sensors``/``measures`` (N,) names, ``preds`` (T, n_models, N), others (T, N).
    """
    keep = np.isfinite(actual) | np.isfinite(value)
    t_idx, s_idx = np.nonzero(keep)
    data = {
        "ts": ts[t_idx].astype("datetime64[ms]"),
        "epoch": epochs[t_idx].astype(np.int64),
        "sensor": sensors[s_idx],
        "measure": measures[s_idx],
        "actual": actual[t_idx, s_idx],
    }
    for j, m in enumerate(models):
        data[pred_column(m)] = preds[t_idx, j, s_idx]
    data["chosen"] = np.full(len(t_idx), chosen, dtype=object)
    data["value"] = value[t_idx, s_idx]
    data["flag"] = np.asarray(FLAG_NAMES, dtype=object)[flag[t_idx, s_idx]]
    data["residual_z"] = z[t_idx, s_idx]
    return pd.DataFrame(data, columns=columns(models))
