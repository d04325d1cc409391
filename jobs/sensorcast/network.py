"""From a data set and a config to engine layouts: stream ids, neighbour wiring, shards."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .io.locations import neighbours
from .io.panel import Panel
from .models import Layout


@dataclass
class Network:
    """All streams of a data set (sensor-major: stream = s · M + m) and each stream's neighbours."""

    sensors: list[str]
    measures: list[str]
    nbr: np.ndarray  # (M, S, k) neighbour sensor indices
    lo: np.ndarray  # (M,)
    hi: np.ndarray  # (M,)
    scale: np.ndarray  # (M,)

    @property
    def n_streams(self) -> int:
        return len(self.sensors) * len(self.measures)

    def stream(self, s: np.ndarray, m: np.ndarray) -> np.ndarray:
        return s * len(self.measures) + m

    def layout(self, sensors: list[int] | None = None) -> tuple[Layout, np.ndarray, np.ndarray]:
        """Layout for the streams of some target sensors (default: all).

        Returns (layout, target stream ids, input stream ids); inputs are the targets' own streams
        followed by the neighbour streams they read.
        """
        n_m = len(self.measures)
        s_idx = np.arange(len(self.sensors)) if sensors is None else np.asarray(sensors, dtype=np.int64)
        ss, mm = np.meshgrid(s_idx, np.arange(n_m), indexing="ij")
        ss, mm = ss.ravel(), mm.ravel()
        targets = self.stream(ss, mm)
        nb = self.stream(self.nbr[mm, ss], mm[:, None])  # (N, k) global stream ids
        extra = np.setdiff1d(np.unique(nb), targets)
        inputs = np.concatenate([targets, extra])
        pos = {int(g): i for i, g in enumerate(inputs)}
        nbr_idx = np.vectorize(pos.__getitem__, otypes=[np.int64])(nb) if nb.size else nb.astype(np.int64)
        in_m = inputs % n_m
        lay = Layout(own_idx=np.arange(len(targets)), nbr_idx=nbr_idx.reshape(len(targets), -1),
                     lo=self.lo[in_m], hi=self.hi[in_m], scale=self.scale[mm])
        return lay, targets, inputs

    def shard_of(self, n_shards: int) -> np.ndarray:
        """Stable shard per sensor: crc32 of the sensor id modulo the shard count."""
        return np.array([zlib.crc32(s.encode()) % n_shards for s in self.sensors], dtype=np.int64)

    def readers_of(self, n_shards: int) -> dict[str, list[int]]:
        """For each sensor, the shards that need its readings (its own and its dependants')."""
        shard = self.shard_of(n_shards)
        need: dict[str, set[int]] = {s: {int(shard[i])} for i, s in enumerate(self.sensors)}
        for m in range(len(self.measures)):
            for s in range(len(self.sensors)):
                for j in self.nbr[m, s]:
                    need[self.sensors[j]].add(int(shard[s]))
        return {s: sorted(v) for s, v in need.items()}


def build(panel: Panel, cfg: dict) -> Network:
    """Neighbours and per-measure ranges/scales for a panel under a config."""
    sp = cfg["models"].get("spatial-rls", {})
    k = int(sp.get("neighbours", 0)) if "spatial-rls" in cfg["models"] else 0
    nbr = neighbours(panel, k, sp.get("method", "auto"))
    ranges, scales = cfg["detection"]["ranges"], cfg["scales"]
    lo = np.array([float(ranges.get(m, [-np.inf, np.inf])[0]) for m in panel.measures])
    hi = np.array([float(ranges.get(m, [-np.inf, np.inf])[1]) for m in panel.measures])
    scale = np.array([float(scales.get(m, 1.0)) for m in panel.measures])
    return Network(list(panel.sensors), list(panel.measures), nbr, lo, hi, scale)
