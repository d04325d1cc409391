"""The local OpenTSDB stack itself (hack/tsdb.sh): a real TSD over HBase that stores ms points, overwrites a
rewritten point (tsd.storage.fix_duplicates) and keeps its data across a TSD restart."""

from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.tsdb


def put(url: str, points: list[dict]) -> dict:
    req = urllib.request.Request(f"{url}/api/put?details&sync&sync_timeout=30000", data=json.dumps(points).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def test_tsd_stores_overwrites_and_survives_restart(tsdb):
    tags = {"sensor": "s1", "measure": "temperature", "pipeline": "stack-test"}
    t0 = 1_700_000_000_123
    pts = [{"metric": "sensorcast.actual", "timestamp": t0 + 60_000 * i, "value": 20.0 + i / 8, "tags": tags}
           for i in range(5)]
    assert put(tsdb.url, pts) == {"success": 5, "failed": 0, "timeouts": 0, "errors": []}
    assert put(tsdb.url, [dict(pts[2], value=-1.5)])["success"] == 1  # same metric+tags+ts: overwrite
    expect = {str(p["timestamp"]): p["value"] for p in pts} | {str(pts[2]["timestamp"]): -1.5}
    got = tsdb.query("sensorcast.actual", tags, t0 - 1000)
    assert len(got) == 1 and got[0]["dps"] == expect
    tsdb.stop_tsd()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{tsdb.url}/api/version", timeout=5)
    tsdb.start_tsd()
    assert tsdb.query("sensorcast.actual", tags, t0 - 1000)[0]["dps"] == expect
