"""AQI-36 (Beijing PM2.5, 36 stations): input = ``pm25_missing.txt``, truth = ``pm25_ground.txt``.

Timestamps are kept as published (Beijing local time labels), so calendar months match the published
evaluation protocol (test months March, June, September, December).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .csvfiles import read_wide
from .locations import read_locations
from .panel import Panel

EVAL_MONTHS = (3, 6, 9, 12)


def read_folder(folder: str | Path) -> Panel:
    """Read the AQI-36 folder: stream input with the evaluation mask applied, ground truth beside it."""
    folder = Path(folder)
    panel = read_wide({"pm25": folder / "pm25_missing.txt"}, name="aqi36")
    ground = read_wide({"pm25": folder / "pm25_ground.txt"}, name="aqi36-ground")
    if ground.sensors != panel.sensors or len(ground.times) != len(panel.times):
        raise ValueError(f"{folder}: pm25_ground.txt and pm25_missing.txt differ in shape")
    panel.truth = ground.values
    panel.locations, panel.geo = read_locations(folder / "pm25_latlng.txt")
    return panel


def eval_mask(panel: Panel) -> np.ndarray:
    """Cells scored by the published protocol: blank in the input, present in the ground truth,
    in the evaluation months."""
    if panel.truth is None:
        raise ValueError("the aqi36 protocol needs a panel with ground truth (the aqi36 data set)")
    months = panel.times.astype("datetime64[M]").astype(int) % 12 + 1
    in_months = np.isin(months, EVAL_MONTHS)[:, None, None]
    return np.isnan(panel.values) & np.isfinite(panel.truth) & in_months
