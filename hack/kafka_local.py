"""A real single-node Kafka (KRaft broker+controller) on loopback, and the Spark Kafka connector jars.

Jars come from Maven Central (``mvn dependency:copy-dependencies`` on a generated pom) into
``~/.cache/sensorcast/kafka-<ver>/`` and ``~/.cache/sensorcast/spark-kafka-<spark ver>/``. Standard library only,
so ``make kafka-up`` works before the virtualenv exists; the tests import it for their session fixture.

    python hack/kafka_local.py fetch                 # resolve both jar sets (once; cached)
    python hack/kafka_local.py up [--dir DIR]        # format storage, start, wait until ready; prints bootstrap
    python hack/kafka_local.py down [--dir DIR]      # graceful stop (SIGTERM, then SIGKILL after a timeout)
    python hack/kafka_local.py status|bootstrap|spark-jars
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KAFKA_VERSION = os.environ.get("KAFKA_VERSION", "4.1.1")
SPARK_VERSION = "4.0.1"  # the pinned pyspark (pyproject.toml)
# Maven Central serves spark-sql-kafka-0-10_2.13:4.0.1 but not its spark-token-provider-kafka-0-10_2.13:4.0.1;
# the token provider of 4.0.0 (same 4.0 line, unchanged API) stands in for it.
TOKEN_PROVIDER_VERSION = "4.0.0"
LOG4J_VERSION = "2.24.3"  # the log4j2 of kafka 4.1's own dependencies; adds its slf4j binding
CACHE = Path(os.environ.get("SENSORCAST_CACHE", Path.home() / ".cache" / "sensorcast"))
DEFAULT_DIR = REPO / "out" / "kafka"
HEAP = os.environ.get("KAFKA_HEAP", "-Xmx512m -Xms128m")
INSTALL_HINT = "run `bash hack/kafka.sh fetch` (or `make kafka-jars`; needs Maven and Maven Central)"


class KafkaError(RuntimeError):
    """Kafka could not be fetched, started or reached; the message says how to fix it."""


# ---------------------------------------------------------------- jars (Maven Central)

def kafka_dir() -> Path:
    return CACHE / f"kafka-{KAFKA_VERSION}"


def spark_kafka_dir() -> Path:
    return CACHE / f"spark-kafka-{SPARK_VERSION}"


POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.sensorcast</groupId><artifactId>{name}</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""
# Parent poms of some artifacts (Spark's) name extra repositories that are not reachable here: send all to Central.
SETTINGS = """<settings><mirrors><mirror><id>central-for-all</id><mirrorOf>*</mirrorOf>
<url>https://repo.maven.apache.org/maven2</url></mirror></mirrors></settings>
"""


def _dep(group: str, artifact: str, version: str, exclude: tuple[tuple[str, str], ...] = ()) -> str:
    excl = "".join(f"<exclusion><groupId>{g}</groupId><artifactId>{a}</artifactId></exclusion>" for g, a in exclude)
    excl = f"<exclusions>{excl}</exclusions>" if excl else ""
    return (f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version>{excl}</dependency>")


def _resolve(name: str, deps: list[str], dest: Path) -> None:
    """Copy the runtime closure of ``deps`` into ``dest`` (atomically: a temp dir renamed at the end)."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise KafkaError("Maven (mvn) is needed to fetch the Kafka jars: apt-get install maven")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{name}-", dir=dest.parent) as tmp:
        work = Path(tmp)
        (work / "pom.xml").write_text(POM.format(name=name, deps="\n".join(deps)))
        (work / "settings.xml").write_text(SETTINGS)
        out = work / "jars"
        cmd = [mvn, "-B", "-q", "-s", str(work / "settings.xml"), "-f", str(work / "pom.xml"),
               "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={out}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            errors = [ln for ln in proc.stdout.splitlines() if "ERROR" in ln][:3]
            raise KafkaError(f"mvn could not resolve {name}: {' '.join(errors) or proc.stderr[-500:]}")
        if dest.exists():
            shutil.rmtree(dest)
        out.rename(dest)


def _artifact(jar: str) -> str:
    """``kafka-clients-3.9.1.jar`` → ``kafka-clients`` (name up to the first dash-digit)."""
    stem = jar[:-4]
    parts = stem.split("-")
    for i in range(1, len(parts)):
        if parts[i][:1].isdigit():
            return "-".join(parts[:i])
    return stem


def pyspark_jars() -> Path | None:
    try:
        import pyspark
    except ImportError:
        return None
    return Path(pyspark.__file__).parent / "jars"


def fetch(force: bool = False) -> tuple[Path, Path]:
    """Resolve the broker's and the connector's jars into the cache (no-op when already there)."""
    kdir = kafka_dir()
    if force or not (kdir / ".complete").exists():
        print(f"resolving org.apache.kafka:kafka_2.13:{KAFKA_VERSION} into {kdir}", file=sys.stderr)
        _resolve("kafka-broker", [_dep("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
                                  _dep("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION)], kdir / "libs")
        (kdir / ".complete").write_text(KAFKA_VERSION + "\n")
    sdir = spark_kafka_dir()
    if force or not (sdir / ".complete").exists():
        print(f"resolving org.apache.spark:spark-sql-kafka-0-10_2.13:{SPARK_VERSION} into {sdir}", file=sys.stderr)
        token = ("org.apache.spark", "spark-token-provider-kafka-0-10_2.13")
        _resolve("spark-kafka", [_dep("org.apache.spark", "spark-sql-kafka-0-10_2.13", SPARK_VERSION, (token,)),
                                 _dep(*token, TOKEN_PROVIDER_VERSION)], sdir / "all")
        (sdir / ".complete").write_text(SPARK_VERSION + "\n")
    return kdir, sdir


def spark_jars() -> list[str]:
    """Local paths of the connector jars for ``spark.jars`` (never ``spark.jars.packages`` at run time)."""
    sdir = spark_kafka_dir()
    if not (sdir / ".complete").exists():
        raise KafkaError(f"the Spark Kafka connector jars are missing in {sdir}: {INSTALL_HINT}")
    # Only what pyspark does not ship already (its own scala-library, hadoop client, slf4j, lz4, ...).
    shipped = {_artifact(j.name) for j in (pyspark_jars() or Path("/nonexistent")).glob("*.jar")}
    jars = [str(j) for j in sorted((sdir / "all").glob("*.jar")) if _artifact(j.name) not in shipped]
    if not any("spark-sql-kafka" in j for j in jars):
        raise KafkaError(f"connector jars incomplete in {sdir}: {INSTALL_HINT}")
    return jars


# ---------------------------------------------------------------- the broker

LOG4J2 = """Configuration:
  status: warn
  Appenders:
    Console:
      name: out
      target: SYSTEM_OUT
      PatternLayout: {pattern: "[%d] %p %m (%c)%n"}
  Loggers:
    Root: {level: INFO, AppenderRef: [{ref: out}]}
    Logger:
      - {name: kafka.log.LogCleaner, level: WARN}
      - {name: org.apache.kafka.storage, level: WARN}
      - {name: kafka.request.logger, level: WARN}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java:
        raise KafkaError("Kafka needs Java 17+: run `bash hack/ensure-java.sh`")
    return java


@dataclass
class Broker:
    """One KRaft node (broker + controller) with its data, config, log and pid under ``dir``."""

    dir: Path
    port: int = 0
    controller_port: int = 0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.dir / "kafka.log"

    @property
    def pid_file(self) -> Path:
        return self.dir / "kafka.pid"

    @property
    def state_file(self) -> Path:
        return self.dir / "broker.json"

    def _cmd(self, main: str, *args: str) -> list[str]:
        libs = kafka_dir() / "libs"
        if not (kafka_dir() / ".complete").exists():
            raise KafkaError(f"Kafka {KAFKA_VERSION} jars are missing in {libs}: {INSTALL_HINT}")
        return [_java(), *HEAP.split(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.dir / 'log4j2.yaml'}", "-cp", f"{libs}/*", main, *args]

    def _config(self) -> Path:
        cfg = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.dir / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "background.threads": "2",
            "log.retention.hours": "-1",  # tests and demos replay whole data sets; nothing ages out
            "log.segment.bytes": str(256 * 1024 * 1024),
            "message.max.bytes": str(8 * 1024 * 1024),
        }
        path = self.dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in cfg.items()))
        (self.dir / "log4j2.yaml").write_text(LOG4J2)
        return path

    def pid(self) -> int | None:
        with contextlib.suppress(FileNotFoundError, ValueError):
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        return None

    def start(self, timeout: float = 120.0) -> Broker:
        """Format storage (first start only), start the JVM in the background, wait until it serves."""
        if self.pid():
            raise KafkaError(f"a broker already runs from {self.dir} (pid {self.pid()}); `down` it first")
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.state_file.exists() and not self.port:
            saved = json.loads(self.state_file.read_text())
            self.port, self.controller_port = saved["port"], saved["controller_port"]
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        props = self._config()
        if not (self.dir / "data" / "meta.properties").exists():
            cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            proc = subprocess.run(self._cmd("kafka.tools.StorageTool", "format", "-t", cluster, "-c", str(props)),
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise KafkaError(f"formatting Kafka storage failed: {proc.stdout[-800:]} {proc.stderr[-800:]}")
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(self._cmd("kafka.Kafka", str(props)), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(f"{proc.pid}\n")
        self.state_file.write_text(json.dumps({"port": self.port, "controller_port": self.controller_port,
                                               "bootstrap": self.bootstrap, "pid": proc.pid}))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise KafkaError(f"Kafka exited with {proc.returncode} at start; see {self.log_file}:\n"
                                 f"{self._log_tail(offset)}")
            if "Kafka Server started" in self._log_tail(offset, 10**7) and self._accepts():
                return self
            time.sleep(0.3)
        self.stop()
        raise KafkaError(f"Kafka did not become ready in {timeout:.0f} s; see {self.log_file}")

    def _log_tail(self, offset: int, size: int = 3000) -> str:
        with contextlib.suppress(FileNotFoundError), open(self.log_file, "rb") as f:
            f.seek(offset)
            data = f.read()
            return data[-size:].decode(errors="replace")
        return ""

    def _accepts(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True
        return False

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (controlled shutdown), then SIGKILL if it is still there after ``timeout`` seconds."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline and self._alive(pid):
            time.sleep(0.2)
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)

    @staticmethod
    def _alive(pid: int) -> bool:
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with contextlib.suppress(FileNotFoundError):
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        return False

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["fetch", "up", "down", "status", "bootstrap", "spark-jars"])
    ap.add_argument("--dir", default=str(DEFAULT_DIR), help=f"broker folder (default {DEFAULT_DIR})")
    ap.add_argument("--port", type=int, default=0, help="client port (default: a free one, kept across restarts)")
    ap.add_argument("--force", action="store_true", help="fetch: resolve again even if cached")
    args = ap.parse_args(argv)
    broker = Broker(Path(args.dir), args.port)
    try:
        if args.cmd == "fetch":
            kdir, sdir = fetch(args.force)
            print(f"kafka jars: {kdir / 'libs'}\nspark connector jars: {', '.join(spark_jars())}")
        elif args.cmd == "up":
            fetch()
            broker.start()
            print(f"kafka {KAFKA_VERSION} up at {broker.bootstrap} (pid {broker.pid()}, log {broker.log_file})")
            print(f"export SENSORCAST_KAFKA={broker.bootstrap}")
        elif args.cmd == "down":
            broker.stop()
            print(f"kafka in {broker.dir} stopped")
        elif args.cmd in ("status", "bootstrap"):
            if not broker.pid():
                print(f"no broker runs from {broker.dir}", file=sys.stderr)
                return 1
            saved = json.loads(broker.state_file.read_text())
            print(saved["bootstrap"] if args.cmd == "bootstrap" else
                  f"kafka up at {saved['bootstrap']} (pid {broker.pid()}, log {broker.log_file})")
        elif args.cmd == "spark-jars":
            print(",".join(spark_jars()))
    except KafkaError as exc:
        print(f"kafka: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
