"""Local end to end: a ForecastPipeline applied to the real kube-apiserver, the operator (kopf, in process)
creates its children, and stand-ins for the controllers that cannot run here (tests/e2e/controllers.py: they
play Strimzi's topic operator, spark-operator and the Job controller + kubelet) run the rendered commands —
``sensorcast replay`` and ``sensorcast stream`` — against the session's real Kafka broker and OpenTSDB, and write
back the status those controllers would write. The pipeline must reach Running/Ready, and every replayed reading
must come out as a forecast in the output topic and as points in the TSD under the pipeline's tag.

The real thing (spark-operator, Strimzi, kubelet) runs in ``make e2e-kind`` where Docker exists.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from sensorcast import cli
from sensorcast.io import datasets
from tests.e2e.controllers import Controllers, Endpoints
from tests.integration.apiserver.harness import kafka_cluster
from tests.integration.kafka_fixture import read_json, summary, wait_until

pytestmark = [pytest.mark.apiserver, pytest.mark.kafka, pytest.mark.spark, pytest.mark.tsdb,
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

ROOT = Path(__file__).resolve().parents[2]
START, END = "2013-08-25T16:00:00Z", "2013-08-25T20:00:00Z"  # four hours of KETI in which room 640 falls silent


def pipeline(namespace: str) -> dict:
    """The KETI example, replayed as fast as possible over a four-hour window, a short trigger."""
    body = copy.deepcopy(yaml.safe_load((ROOT / "operator/examples/keti.yaml").read_text()))
    body["metadata"] = {"name": "keti", "namespace": namespace}
    body["spec"]["dataset"] = {"name": "keti", "speedup": "max", "start": START, "end": END}
    body["spec"]["spark"]["trigger"] = "2 seconds"
    # topics of its own: the session's broker is shared with the Kafka tests
    body["spec"]["kafka"]["topics"] = {role: f"{namespace}-{role}" for role in ("input", "output", "deadLetter")}
    return body


def expected_readings(measures: list[str]) -> int:
    panel = cli.time_window(datasets.load("keti").select(measures=measures), START, END)
    return int(np.isfinite(panel.values).sum())


def condition(fp: dict, type_: str) -> str | None:
    return next((c["status"] for c in (fp.get("status") or {}).get("conditions") or [] if c["type"] == type_), None)


def test_pipeline_runs_end_to_end_on_local_servers(namespace, kafka, tsdb, tmp_path):
    from kopf.testing import KopfRunner

    from sensorcast_operator import kube

    body = pipeline(namespace)
    measures = sorted(body["spec"]["sensors"]["measures"])
    want = expected_readings(measures)
    kube.create(kafka_cluster(namespace))
    kube.create(body)
    ctl = Controllers(namespace, Endpoints(kafka.bootstrap, tsdb.url, tmp_path)).start()
    try:
        with KopfRunner(["run", "--standalone", "-m", "sensorcast_operator.handlers", "-n", namespace]) as runner:
            def running():
                fp = kube.get("ForecastPipeline", namespace, "keti")
                st = fp.get("status") or {}
                return fp if st.get("phase") == "Running" and condition(fp, "Ready") == "True" else None

            wait_until(running, 600, "the pipeline to reach Running/Ready")
            out_topic = body["spec"]["kafka"]["topics"]["output"]

            def forecasts():
                recs = read_json(kafka.bootstrap, out_topic)
                return recs if sum(r["actual"] is not None for r in recs) >= want else None

            recs = wait_until(forecasts, 600, f"{want} forecasts of real readings in {out_topic}")
            final = kube.get("ForecastPipeline", namespace, "keti")
        assert runner.exception is None and "Traceback" not in runner.output, runner.output[-3000:]
    except BaseException:
        print(ctl.dump())
        raise
    finally:
        codes = ctl.stop()

    # the replay Job sent exactly the window's readings and ended well
    job_log = next(ctl.log_of(k, n) for k, n in ctl.procs if k == "Job")
    sent = summary(job_log, "replay done:")
    assert (sent["undelivered"], sent["failed"]) == ("0", "0"), job_log[-2000:]
    assert [c for (k, _), c in codes.items() if k == "Job"] == [0], job_log[-2000:]
    # the stream: one forecast per (epoch, sensor, measure), every reading with its actual, gaps filled
    keys = {(r["epoch"], r["sensor"], r["measure"]) for r in recs}
    real = {(r["epoch"], r["sensor"], r["measure"]) for r in recs if r["actual"] is not None}
    assert len(real) == want and {r["measure"] for r in recs} == set(measures)
    assert {r["flag"] for r in recs} >= {"ok", "missing"} and len(keys) > len(real)
    # ok and filled rows carry a value (an erroneous one has none only while its sensor has never read in range)
    assert all(r["value"] is not None and np.isfinite(r["value"]) for r in recs if r["flag"] != "erroneous")
    # the stream stopped gracefully on SIGTERM, as a pod does
    assert [c for (k, _), c in codes.items() if k == "SparkApplication"] == [0], ctl.dump()
    # the TSD got the points, tagged with the pipeline's name (SENSORCAST_PIPELINE from the driver's env)
    start_ms = int(np.datetime64(START.rstrip("Z"), "ms").astype(np.int64)) - 1
    series = tsdb.query("sensorcast.actual", {"pipeline": "keti"}, start_ms)
    assert sum(len(s["dps"]) for s in series) == want
    assert {s["tags"]["measure"] for s in series} == set(measures)
    # and the status says so
    st = final["status"]
    assert st["phase"] == "Running" and st["observedGeneration"] == final["metadata"]["generation"]
    got = {c["type"]: c["status"] for c in st["conditions"]}
    for t in ("TopicsReady", "ReplayComplete", "StreamingRunning", "Ready"):
        assert got.get(t) == "True", (t, st["conditions"])
    print(f"\nfinal ForecastPipeline status: phase={st['phase']} "
          + " ".join(f"{c['type']}={c['status']}" for c in st["conditions"])
          + f"; {len(real)} readings forecast, {len(keys) - len(real)} gaps filled")
