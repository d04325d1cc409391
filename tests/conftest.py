"""Shared fixtures: small real panels, the repository root, a per-session Spark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sensorcast import config
from sensorcast.io import datasets
from sensorcast.io.panel import Panel

ROOT = Path(__file__).resolve().parents[1]
# session fixtures of real servers, shared by every folder: `tsdb` (OpenTSDB), `kafka` (KRaft broker),
# `control_plane` + `namespace` (etcd + kube-apiserver)
pytest_plugins = ["tests.integration.tsdb_fixture", "tests.integration.kafka_fixture",
                  "tests.integration.apiserver.control_plane_fixture"]


@pytest.fixture(scope="session")
def keti() -> Panel:
    return datasets.load("keti")


@pytest.fixture(scope="session")
def extract() -> Panel:
    return datasets.load("intel-extract")


@pytest.fixture
def cfg() -> dict:
    return config.load()


def toy_panel(values: np.ndarray, measures: list[str] | None = None, step_min: int = 60) -> Panel:
    """A panel on a regular grid from a (T, S, M) array, starting at midnight UTC."""
    t, s, m = values.shape
    times = np.datetime64("2024-01-01T00:00", "ms") + np.arange(t) * np.timedelta64(step_min, "m")
    return Panel("toy", times, np.arange(t), [f"s{i}" for i in range(s)],
                 measures or [f"m{i}" for i in range(m)], values.astype(float),
                 locations={f"s{i}": (float(i), 0.0) for i in range(s)}, rows=int(np.isfinite(values).sum()))
