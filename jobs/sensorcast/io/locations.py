"""Sensor locations and neighbour selection (nearest by distance, or most correlated when no layout)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from .panel import Panel


def read_locations(path: str | Path) -> tuple[dict[str, tuple[float, float]], bool]:
    """Read ``sensor,x,y`` / ``sensor,lat,lon`` CSV (header decides) or Intel's ``mote_locs.txt``.

    Returns (locations, geo) where geo is True for latitude/longitude degrees.
    """
    path = Path(path)
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{path}: empty locations file")
    sep = "," if "," in lines[0] else None
    head = [h.strip().lower() for h in lines[0].split(sep)]
    geo = any(h.startswith("lat") for h in head)
    has_header = not _is_number(head[-1])
    out: dict[str, tuple[float, float]] = {}
    for no, line in enumerate(lines[1:] if has_header else lines, 2 if has_header else 1):
        cells = [c.strip() for c in line.split(sep)]
        if len(cells) < 3:
            raise ValueError(f"{path}:{no}: expected sensor,x,y; got {line!r}")
        try:
            a, b = float(cells[1]), float(cells[2])
        except ValueError as exc:
            raise ValueError(f"{path}:{no}: non-numeric coordinate in {line!r}") from exc
        out[cells[0]] = (a, b)
    if geo and head[1].startswith("lon"):
        out = {k: (v[1], v[0]) for k, v in out.items()}
    return out, geo


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def distance_matrix(points: np.ndarray, geo: bool) -> np.ndarray:
    """Pairwise distances: Euclidean for (x, y), great-circle km for (lat, lon)."""
    if not geo:
        d = points[:, None, :] - points[None, :, :]
        return np.sqrt((d**2).sum(-1))
    lat, lon = np.radians(points[:, 0]), np.radians(points[:, 1])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    h = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


CELL_SEARCH_FROM = 2000  # sensors: above this, planar neighbours come from a cell search, not an S × S matrix


def nearest_planar(pts: np.ndarray, k: int) -> np.ndarray:
    """The k nearest other points of every point (S, k), exactly as a stable argsort of the full distance
    matrix orders them (by distance, then index), without the S × S matrix (46 GB at 54,000 sensors).

    Points are bucketed in square cells of about 2(k + 1) points; a point's candidates are the points of the
    (2r + 1)² cells around its own, r = 1, 2, … until its k-th candidate distance is below r cells (then no
    point outside can be nearer or tie). Distances use the formula of :func:`distance_matrix`, so ties break
    the same way. Time and memory grow with S (times the points per cell), not S².
    """
    n = len(pts)
    lo = pts.min(axis=0)
    span = np.maximum(np.ptp(pts, axis=0), 1e-9)
    cell = float(np.sqrt(span.prod() * 2 * (k + 1) / n)) or 1.0
    ij = np.floor((pts - lo) / cell).astype(np.int64)
    dims = ij.max(axis=0) + 1
    key = ij[:, 0] * dims[1] + ij[:, 1]
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    cells = {int(c): order[a:b] for c, a, b in zip(keys, starts, np.r_[starts[1:], n], strict=True)}
    out = np.empty((n, k), dtype=np.int64)
    for c, members in cells.items():
        cx, cy = divmod(c, int(dims[1]))
        todo, r = members, 1
        while len(todo):
            block = [cells[x * dims[1] + y] for x in range(max(cx - r, 0), min(cx + r + 1, dims[0]))
                     for y in range(max(cy - r, 0), min(cy + r + 1, dims[1])) if x * dims[1] + y in cells]
            cand = np.sort(np.concatenate(block))
            d = np.sqrt(((pts[todo][:, None, :] - pts[cand][None, :, :]) ** 2).sum(-1))
            d[todo[:, None] == cand[None, :]] = np.inf
            whole = r * cell >= span.max() + cell
            if len(cand) > k or whole:
                nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
                kth = np.take_along_axis(d, nearest[:, -1:], axis=1)[:, 0]
                done = (kth < r * cell * (1 - 1e-9)) | whole  # nothing outside the block is as near
                out[todo[done]] = cand[nearest[done]]
                todo = todo[~done]
            r += 1
    return out


def warmup_steps(panel: Panel) -> int:
    """Number of time steps before the end of day 1 (the first full UTC day): the warm-up window."""
    days = panel.days
    first_full = days[0] + (1 if panel.times[0] > days[0].astype("datetime64[ms]") else 0)
    return int(np.searchsorted(days, first_full + 1))


def neighbours(panel: Panel, k: int, method: str = "auto") -> np.ndarray:
    """Neighbour sensor indices, shape (M, S, k): for each measure and sensor its k neighbours.

    ``method``: ``distance`` (needs locations), ``correlation`` (most correlated over the warm-up
    window, per measure), or ``auto`` (distance when every sensor has a location).
    """
    n_s, n_m = len(panel.sensors), len(panel.measures)
    if k == 0:
        return np.zeros((n_m, n_s, 0), dtype=np.int64)
    if k >= n_s:
        raise ValueError(f"models.spatial-rls.neighbours = {k}, but the data set has only {n_s} sensors "
                         f"(at most {n_s - 1} neighbours)")
    has_locs = panel.locations is not None and all(s in panel.locations for s in panel.sensors)
    if method == "auto":
        method = "distance" if has_locs else "correlation"
    if method == "distance":
        if not has_locs:
            raise ValueError("sensors.neighbours.method = distance, but the data set has no locations "
                             "(give --locations FILE or use method correlation)")
        pts = np.array([panel.locations[s] for s in panel.sensors], dtype=float)
        if panel.geo or n_s <= CELL_SEARCH_FROM:
            dist = distance_matrix(pts, panel.geo)
            np.fill_diagonal(dist, np.inf)
            order = np.argsort(dist, axis=1, kind="stable")[:, :k]
        else:
            order = nearest_planar(pts, k)
        return np.broadcast_to(order, (n_m, n_s, k)).copy()
    if method != "correlation":
        raise ValueError(f"sensors.neighbours.method must be auto, distance or correlation; got {method!r}")
    window = max(warmup_steps(panel), min(len(panel.times), 60))
    out = np.zeros((n_m, n_s, k), dtype=np.int64)
    for m in range(n_m):
        frame = pd.DataFrame(panel.values[:window, :, m])
        corr = frame.corr(min_periods=10).to_numpy()
        corr = np.where(np.isfinite(corr), corr, -math.inf)
        np.fill_diagonal(corr, -math.inf)
        out[m] = np.argsort(-corr, axis=1, kind="stable")[:, :k]
    return out
