"""What every model sees at one time step, built once per step by the engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class StepContext:
    """Inputs of one time step for N target streams.

    ``hist[:, 0]`` is the stream's value at t-1 (actual if it was good, else the filled value),
    ``hist[:, 1]`` at t-2, ...; ``nbrs`` are the neighbours' latest in-range readings (carried
    forward, already replaced by ``hist[:, 0]`` where a neighbour has never reported); ``scale`` is a
    per-stream unit that makes regressors dimensionless; ``fresh`` (N, k) holds the neighbours'
    readings of *this* step (NaN where a neighbour did not report an in-range value), for models that
    must not treat a carried-forward value as news.
    """

    hist: np.ndarray  # (N, H)
    nbrs: np.ndarray  # (N, k)
    scale: np.ndarray  # (N,)
    last_ok: np.ndarray  # (N,) last good reading (persistence)
    gap: np.ndarray  # (N,) steps since the last good reading (0: the previous step was good)
    fresh: np.ndarray | None = None  # (N, k) neighbours' readings at this step, NaN where none
