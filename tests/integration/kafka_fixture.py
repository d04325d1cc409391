"""Session fixture: a real single-node Kafka (KRaft) on loopback, started by ``hack/kafka_local.py`` in a temp dir;
plus helpers to run ``sensorcast replay``/``stream`` as the user does (subprocesses) and read topics back.

Tests share one broker and keep apart by topic names of their own. ``kafka.restart()`` makes an outage.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HINT = "the Kafka tests need the broker and connector jars: run `make tools` (or `bash hack/kafka.sh fetch`)"
CLI = str(Path(sys.executable).with_name("sensorcast"))


def kafka_local():
    spec = importlib.util.spec_from_file_location("kafka_local", ROOT / "hack" / "kafka_local.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("kafka_local", mod)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def kafka(tmp_path_factory):
    kl = kafka_local()
    if not (kl.kafka_dir() / ".complete").exists():
        pytest.fail(f"Kafka {kl.KAFKA_VERSION} jars are not in {kl.kafka_dir()}: {HINT}")
    try:
        kl.spark_jars()
    except kl.KafkaError as exc:
        pytest.fail(f"{exc}; {HINT}")
    broker = kl.Broker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    yield broker
    broker.stop()


def env() -> dict:
    """The environment of the CLI subprocesses (unbuffered, so tests can follow their progress)."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def start(args: list[str], log: Path) -> subprocess.Popen:
    """``sensorcast ARGS`` in its own process group (so a test can SIGKILL the driver with its JVM)."""
    fh = open(log, "wb")  # closed by finish()
    proc = subprocess.Popen([CLI, *args], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env(), start_new_session=True)
    proc.log_path, proc.log_file = log, fh
    return proc


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    """Wait for a process to end by itself; on timeout kill its group and fail with its log."""
    try:
        rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        pytest.fail(f"{proc.args[1]} did not end in {timeout:.0f} s:\n{tail(proc)}")
    proc.log_file.close()
    return rc, proc.log_path.read_text(errors="replace")


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """SIGKILL: the whole process group (the Python driver and its JVM), reaped. Other signals: the driver's
    Python process alone, as a pod's stop or ``kill PID`` sends it (its JVM must live on to finish the batch)."""
    try:
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    if sig == signal.SIGKILL:
        proc.wait(60)
        deadline = time.time() + 30
        while time.time() < deadline:  # the JVM of the group goes too
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)


def tail(proc: subprocess.Popen, n: int = 4000) -> str:
    return proc.log_path.read_text(errors="replace")[-n:]


def wait_until(cond, timeout: float, what: str, proc: subprocess.Popen | None = None, every: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = cond()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process ended ({proc.returncode}) first:\n{tail(proc)}")
        time.sleep(every)
    pytest.fail(f"{what}: not within {timeout:.0f} s" + (f":\n{tail(proc)}" if proc is not None else ""))


def summary(text: str, prefix: str) -> dict[str, str]:
    """``key=value`` pairs of the last line starting with ``prefix`` (the replay's and stream's summary lines)."""
    lines = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    assert lines, f"no line starting with {prefix!r} in:\n{text[-3000:]}"
    return dict(p.split("=", 1) for p in lines[-1].split() if "=" in p)


def read_json(bootstrap: str, topic: str) -> list[dict]:
    from sensorcast.sinks.kafka import read_topic

    return [json.loads(v) for _, v in read_topic(bootstrap, topic)]


def committed_batches(checkpoint: Path) -> int:
    commits = checkpoint / "commits"
    return len([p for p in commits.iterdir() if p.name.isdigit()]) if commits.is_dir() else 0
