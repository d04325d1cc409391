"""Fixtures of the integration tests (the real servers' session fixtures are plugins of tests/conftest.py): the
KETI slice and its uninterrupted run into the session's TSD (pipeline ``it-clean``), shared by the OpenTSDB
sink, dashboard and report tests."""

import pytest

from sensorcast import config
from tests.integration.tsdb_expect import keti_slice, make_sink, run_rows, run_with


@pytest.fixture(scope="session")
def slice_cfg(tmp_path_factory) -> dict:
    data, locs = keti_slice(tmp_path_factory.mktemp("keti-slice"))
    return config.load(dataset=str(data), format="long-csv", locations=str(locs),
                       sets=["replay.slice=hour", "spark.shards=2"])


@pytest.fixture(scope="session")
def clean_run(tsdb, slice_cfg, tmp_path_factory):
    """An uninterrupted run into pipeline ``it-clean``: (out dir, rows, sink)."""
    out = tmp_path_factory.mktemp("clean")
    sink = make_sink(tsdb, slice_cfg, "it-clean", out / "opentsdb-state")
    run_with(tsdb, slice_cfg, out, sink)
    return out, run_rows(out), sink
