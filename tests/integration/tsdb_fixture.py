"""Session fixture: a real OpenTSDB TSD over a standalone HBase, started by ``hack/tsdb.sh`` in a temp dir.

Tests share one TSD and keep apart by a ``pipeline`` tag of their own. ``stop_tsd``/``start_tsd`` make an
outage (HBase and its data stay up). ``query`` reads points back through ``/api/query``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hack" / "tsdb.sh"
HINT = ("the OpenTSDB tests need Java 17 (JDK), Maven and Maven Central: run `make tools` "
        "(or `bash hack/fetch-tsdb.sh`; apt-get install openjdk-17-jdk-headless maven)")


@dataclass
class Tsdb:
    url: str
    dir: Path

    def _run(self, cmd: str) -> str:
        res = subprocess.run(["bash", str(SCRIPT), cmd, str(self.dir)], capture_output=True, text=True, timeout=600)
        if res.returncode:
            raise RuntimeError(f"hack/tsdb.sh {cmd} failed ({res.returncode}): {res.stderr[-2000:]}\n{HINT}")
        return res.stdout.strip()

    def stop_tsd(self) -> None:
        self._run("stop-tsd")

    def start_tsd(self) -> None:
        assert self._run("start-tsd").endswith(self.url.rsplit(":", 1)[1])

    def query(self, metric: str, tags: dict[str, str], start_ms: int = 0, end_ms: int | None = None,
              aggregator: str = "none", downsample: str | None = None) -> list[dict]:
        """``/api/query`` with ms resolution, through the product's reader; one dict per series (``dps``:
        {ms: value}); [] for a metric or tag value never written."""
        from sensorcast.sinks.opentsdb_read import OpenTsdbReader

        return OpenTsdbReader(self.url, timeout=60).query(metric, tags, start_ms, end_ms, aggregator, downsample)

    def suggest(self, kind: str, q: str = "") -> list[str]:
        qs = urllib.parse.urlencode({"type": kind, "q": q, "max": 10000})
        with urllib.request.urlopen(f"{self.url}/api/suggest?{qs}", timeout=30) as resp:
            return json.loads(resp.read())


@pytest.fixture(scope="session")
def tsdb(tmp_path_factory) -> Tsdb:
    for tool in ("java", "javac", "curl"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} not found: {HINT}")
    d = tmp_path_factory.mktemp("tsdb")
    t = Tsdb("", d)
    try:
        t.url = t._run("up").splitlines()[-1]
    except Exception:
        subprocess.run(["bash", str(SCRIPT), "down", str(d)], capture_output=True, timeout=120)
        raise
    yield t
    subprocess.run(["bash", str(SCRIPT), "down", str(d)], capture_output=True, timeout=120)
