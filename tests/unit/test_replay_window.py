"""``sensorcast replay --start/--end`` (the replay Job's dataset.start/end): a half-open UTC time window."""

import numpy as np
import pytest

from sensorcast import cli, config
from sensorcast.io import datasets


@pytest.fixture(scope="module")
def panel():
    return datasets.load("intel-extract")


def test_window_is_half_open_and_honours_offsets(panel):
    q = cli.time_window(panel, "2004-03-04T00:00:00Z", "2004-03-04T12:00+02:00")  # 10:00 UTC
    assert q.times[0] == np.datetime64("2004-03-04T00:00")
    assert q.times[-1] == np.datetime64("2004-03-04T09:30")  # 10:00 itself is excluded
    assert q.values.shape[1:] == panel.values.shape[1:]


def test_open_ends_and_no_window(panel):
    assert cli.time_window(panel, None, None) is panel
    assert len(cli.time_window(panel, None, "2004-03-01T01:00:00").times) == 1  # only 00:30
    assert cli.time_window(panel, "2004-03-06T00:00:00", None).times.tolist() == [panel.times[-1]]


@pytest.mark.parametrize("start,end,msg", [("2010-01-01", None, "no time step"),
                                           ("yesterday-ish", None, "--start: 'yesterday-ish'"),
                                           ("2004-03-05", "2004-03-04", "no time step")])
def test_bad_windows_name_the_flag(panel, start, end, msg):
    with pytest.raises(config.ConfigError, match=msg):
        cli.time_window(panel, start, end)
