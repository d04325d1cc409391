"""The sink-state folder on a Hadoop file system through the Spark driver's JVM (the path a cluster's
``hdfs://`` checkpoint takes; here Hadoop's ``file://`` file system, as no HDFS runs on this machine), and the
OpenTSDB sink's MSE state on it: same behaviour as on a local folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sensorcast import stream
from sensorcast.sinks.opentsdb import MseState
from sensorcast.sinks.small_files import HadoopFiles, LocalFiles

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    s = stream.session("local[1]", app="small-files")
    yield s
    s.stop()


def test_hadoop_files_read_write_replace_delete(spark, tmp_path):
    files = HadoopFiles(spark, (tmp_path / "state").as_uri())
    assert files.names() == []
    files.write("1.json", '{"a": 1}')
    files.write("1.json", '{"a": 2, "é": "ü"}')  # replaced, not appended; UTF-8 both ways
    files.write("2.json", "{}")
    assert sorted(files.names()) == ["1.json", "2.json"]  # no temporary files left
    assert files.read("1.json") == '{"a": 2, "é": "ü"}'
    assert (tmp_path / "state" / "1.json").read_text() == '{"a": 2, "é": "ü"}'
    files.delete("2.json")
    files.delete("never-written.json")
    assert files.names() == ["1.json"]


def test_mse_state_on_a_uri_equals_a_local_folder(spark, tmp_path):
    sums = pd.DataFrame({"sensor": ["a", "b"], "measure": ["t", "t"], "model": ["ema", "ema"],
                         "day": np.array([19000, 19001]), "n": np.array([3, 4]), "sse": [1.5, 2.25],
                         "ts": np.array([10, 20])})
    uri, local = MseState((tmp_path / "uri").as_uri()), MseState(tmp_path / "local")
    with pytest.raises(RuntimeError, match="bind"):
        uri.before(0)
    uri.bind(spark)
    local.bind(spark)  # a no-op
    assert isinstance(local.files, LocalFiles) and isinstance(uri.files, HadoopFiles)
    for st in (uri, local):
        for b in range(5):
            st.save(b, sums.assign(n=sums.n + b))
        assert st._ids() == [2, 3, 4]  # the newest few are kept
        pd.testing.assert_frame_equal(st.before(4), sums.assign(n=sums.n + 3))
        st.save(3, sums)  # batch 3 replayed (a restart from an older checkpoint): later states go
        assert st._ids() == [2, 3]
        pd.testing.assert_frame_equal(st.before(4), sums)
        pd.testing.assert_frame_equal(st.before(3), sums.assign(n=sums.n + 2))
        assert st.before(0).empty
