"""Fixtures of the chart tests: the local umbrella (built once), renders cached per values profile, and the
real kube-apiserver of the operator tests (`control_plane`, registered by tests/conftest.py) for the
server-side dry run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.charts import helmtool


@pytest.fixture(scope="session")
def umbrella(tmp_path_factory) -> Path:
    """charts/sensorcast with the upstream dependencies removed and the local subcharts built into charts/."""
    return helmtool.build_local_umbrella(tmp_path_factory.mktemp("umbrella"))


@pytest.fixture(scope="session")
def render(umbrella) -> Callable[[str], list[dict]]:
    """render(profile) -> the umbrella's objects (CRDs included) for tests/charts/profiles/<profile>.yaml."""
    cache: dict[str, list[dict]] = {}

    def _render(profile: str) -> list[dict]:
        if profile not in cache:
            cache[profile] = helmtool.template(umbrella, *helmtool.profile_args(profile), include_crds=True)
        return cache[profile]

    return _render


@pytest.fixture(scope="session")
def all_rendered(render) -> dict[str, list[dict]]:
    """Every profile's objects, by profile name."""
    return {name: render(name) for name in helmtool.PROFILE_NAMES}
