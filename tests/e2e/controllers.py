"""Stand-ins for the controllers that cannot run here (Strimzi's topic operator, spark-operator, the Job
controller + kubelet): they watch the children the sensorcast operator created in one namespace of the real
API server, do locally what those controllers would make happen in a cluster, and write back the status those
controllers would write.

- KafkaTopic → the topic is created in the local broker with the spec's partitions; status Ready.
- Job → its container's command (``sensorcast replay ...``) runs as a local process; status active, then
  Complete or Failed by its exit code.
- SparkApplication → its ``arguments`` (``stream ...``) run through the ``sensorcast`` CLI, as the image's
  ``mainApplicationFile`` does under spark-submit; status RUNNING while the driver lives, FAILED when it exits
  non-zero.

Only in-cluster endpoints are substituted: the Kafka bootstrap address, the OpenTSDB URL, ``hdfs://`` URIs
(→ ``file://`` URIs under ``workdir``) and the mounted ConfigMap file (→ its data written to ``workdir``). Everything
else — flags, topics, config, environment — is what the operator rendered. The real path is the kind e2e
(``make e2e-kind``), where Docker exists.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.apiserver.harness import complete_job, mark_topics_ready, now, set_spark_state
from tests.integration.kafka_fixture import CLI, env


@dataclass
class Endpoints:
    """Local stand-ins for the cluster's services."""

    bootstrap: str
    opentsdb: str | None
    workdir: Path


@dataclass
class Process:
    kind: str
    name: str
    proc: subprocess.Popen
    log: Path
    reported: str = ""


@dataclass
class Controllers:
    """Polls one namespace; ``start()`` runs it in a thread, ``stop()`` ends it and SIGTERMs what it started."""

    namespace: str
    ends: Endpoints
    poll: float = 0.5
    procs: dict[tuple[str, str], Process] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="stand-in-controllers")

    # --- lifecycle ---
    def start(self) -> Controllers:
        self._thread.start()
        return self

    def stop(self) -> dict[tuple[str, str], int | None]:
        """Stop polling; SIGTERM the processes still running (a pod's stop); their exit codes."""
        self._stop.set()
        self._thread.join(30)
        codes = {}
        for key, p in self.procs.items():
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
                try:
                    p.proc.wait(120)
                except subprocess.TimeoutExpired:
                    p.proc.kill()
                    p.proc.wait()
            codes[key] = p.proc.returncode
        return codes

    def log_of(self, kind: str, name: str) -> str:
        p = self.procs.get((kind, name))
        return p.log.read_text(errors="replace") if p else ""

    def dump(self) -> str:
        """The processes' log tails and the stand-ins' own errors (printed when a test fails)."""
        out = [f"--- {k} {n}:\n{p.log.read_text(errors='replace')[-3000:]}" for (k, n), p in self.procs.items()]
        return "\n".join([*out, f"stand-in errors: {self.errors[-5:]}"])

    def _loop(self) -> None:
        while not self._stop.is_set():
            for controller in (self._topics, self._jobs, self._spark_apps):
                try:
                    controller()
                except Exception as exc:  # reported by the test; each goes on, as a real controller would
                    self.errors.append(f"{controller.__name__}: {type(exc).__name__}: {exc}")
            self._stop.wait(self.poll)

    # --- substitutions ---
    def _local(self, uri: str) -> str:
        """``hdfs://host:port/path`` → ``file:///workdir/hdfs/path``: still a URI, so the job takes the same
        Hadoop file-system path as in a cluster (checkpoint, Parquet, the OpenTSDB sink's state)."""
        if uri.startswith("hdfs://"):
            path = uri.split("://", 1)[1].split("/", 1)[1]
            return (self.ends.workdir / "hdfs" / path).as_uri()
        return uri

    def _args(self, args: list[str], config: Path) -> list[str]:
        from sensorcast_operator import names

        out = list(args)
        for i, a in enumerate(out[:-1]):
            value = out[i + 1]
            if a == "--bootstrap-servers":
                out[i + 1] = self.ends.bootstrap
            elif a == "--opentsdb":
                if not self.ends.opentsdb:
                    raise RuntimeError("the pipeline has an OpenTSDB sink but no local TSD was given")
                out[i + 1] = self.ends.opentsdb
            elif a in ("--checkpoint", "--parquet"):
                out[i + 1] = self._local(value)
            elif a == "--config" and value == names.CONFIG_FILE:
                out[i + 1] = str(config)
        return out

    def _config_file(self, pipeline: str) -> Path:
        """The pipeline ConfigMap's config.yaml, where the pod would see it mounted."""
        from sensorcast_operator import kube, names

        cm = kube.get("ConfigMap", self.namespace, names.config_map_name(pipeline))
        path = self.ends.workdir / "configmaps" / cm["metadata"]["name"] / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cm["data"]["config.yaml"])
        return path

    def _spawn(self, kind: str, name: str, argv: list[str], env_list: list[dict]) -> Process:
        log = self.ends.workdir / "logs" / f"{kind.lower()}-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        extra = {e["name"]: e["value"] for e in env_list or [] if "value" in e}
        fh = open(log, "wb")
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**env(), **extra}, start_new_session=True)
        fh.close()  # the child holds its own descriptor
        p = self.procs[(kind, name)] = Process(kind, name, proc, log)
        return p

    # --- the three controllers ---
    def _topics(self) -> None:
        from confluent_kafka.admin import AdminClient

        from sensorcast import replay
        from sensorcast_operator import kube, names

        for t in kube.list_("KafkaTopic", self.namespace):
            if (t.get("status") or {}).get("topicName"):
                continue
            admin = AdminClient({"bootstrap.servers": self.ends.bootstrap})
            replay.ensure_topic(admin, t["spec"]["topicName"], int(t["spec"].get("partitions", 1)))
            mark_topics_ready(self.namespace, t["metadata"]["labels"][names.PIPELINE_LABEL])

    def _jobs(self) -> None:
        from sensorcast_operator import kube, names

        for job in kube.list_("Job", self.namespace):
            name = job["metadata"]["name"]
            key = ("Job", name)
            if job["spec"].get("suspend"):
                continue
            if key not in self.procs:
                c = job["spec"]["template"]["spec"]["containers"][0]
                cmd = c["command"]
                assert cmd[0] == "sensorcast", cmd
                config = self._config_file(job["metadata"]["labels"][names.PIPELINE_LABEL])
                self._spawn("Job", name, [CLI, *self._args(cmd[1:], config)], c.get("env"))
                kube.patch("Job", self.namespace, name, {"status": {"startTime": now(), "active": 1}},
                           sub="status")
                continue
            p = self.procs[key]
            rc = p.proc.poll()
            if rc is None or p.reported:
                continue
            if rc == 0:
                complete_job(self.namespace, name)
                p.reported = "Complete"
            else:
                ts = now()
                kube.patch("Job", self.namespace, name, {"status": {
                    "active": 0, "failed": 1, "uncountedTerminatedPods": {},
                    "conditions": [{"type": "FailureTarget", "status": "True", "lastTransitionTime": ts,
                                    "reason": "BackoffLimitExceeded", "message": f"exit code {rc}"},
                                   {"type": "Failed", "status": "True", "lastTransitionTime": ts,
                                    "reason": "BackoffLimitExceeded", "message": f"exit code {rc}"}]}},
                    sub="status")
                p.reported = "Failed"

    def _spark_apps(self) -> None:
        from sensorcast_operator import kube, names

        for app in kube.list_("SparkApplication", self.namespace):
            name = app["metadata"]["name"]
            key = ("SparkApplication", name)
            if app["spec"].get("suspend"):
                continue
            if key not in self.procs:
                config = self._config_file(app["metadata"]["labels"][names.PIPELINE_LABEL])
                args = self._args(app["spec"]["arguments"], config)
                self._spawn("SparkApplication", name, [CLI, *args], app["spec"]["driver"].get("env"))
                set_spark_state(self.namespace, name, "SUBMITTED")
                continue
            p = self.procs[key]
            rc = p.proc.poll()
            if rc is None and not p.reported and "sensorcast stream: " in p.log.read_text(errors="replace"):
                set_spark_state(self.namespace, name, "RUNNING")  # the driver is up, its query starting
                p.reported = "RUNNING"
            elif rc is not None and p.reported != "ended":
                state, err = ("COMPLETED", None) if rc == 0 else ("FAILED", f"driver exited with {rc}")
                set_spark_state(self.namespace, name, state, err)
                p.reported = "ended"

