"""A throwaway Kubernetes control plane for tests: etcd + kube-apiserver on loopback, no kubelet.

The only controller is the garbage collector (kube-controller-manager --controllers=garbagecollector), started
when its binary was built, so owner references really delete children.

Binaries come from hack/build-apiserver-tools.sh (cached in ~/.cache/sensorcast). Auth is a static admin token
(group system:masters) under RBAC; the service-account signing key is generated per start in a temp dir.
Also installs CRDs (the project's and the upstream ones from ../shared/crds or `make crds`).

    python hack/kube_testenv.py run [--crds]     # start, print KUBECONFIG, wait for Ctrl-C, stop
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
K8S_VERSION = os.environ.get("K8S_VERSION", "1.37.2")
ETCD_VERSION = os.environ.get("ETCD_VERSION", "3.6.16")
CACHE = Path(os.environ.get("SENSORCAST_CACHE", Path.home() / ".cache" / "sensorcast"))
LOCK = REPO / "hack" / "crds.lock"
PROJECT_CRDS = REPO / "operator" / "crds"
INSTALL_HINT = "run `bash hack/build-apiserver-tools.sh` (or `make apiserver-tools`; needs Go and the Go module proxy)"


class TestEnvError(RuntimeError):
    """The control plane could not be found, started or reached; the message says how to fix it."""


def binary_path(tool: str) -> Path:
    """Where the build script caches a control-plane binary (kube-apiserver, kubectl, kube-controller-manager, etcd)."""
    version = ETCD_VERSION if tool == "etcd" else K8S_VERSION
    return CACHE / f"{tool}-{version}" / tool


def binary(tool: str) -> Path:
    """Path of a cached control-plane binary; TestEnvError (saying how to build it) when it is missing."""
    path = binary_path(tool)
    if not os.access(path, os.X_OK):
        raise TestEnvError(f"{path} is missing: {INSTALL_HINT}")
    return path


def lock_entries() -> list[dict]:
    """hack/crds.lock: one upstream CRD file a line as `relative/path sha256 url`."""
    rows = []
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rel, sha, url = line.split()
            rows.append({"path": rel, "sha256": sha, "url": url})
    return rows


def _matches_lock(root: Path) -> bool:
    for row in lock_entries():
        f = root / row["path"]
        if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != row["sha256"]:
            return False
    return True


def upstream_crd_dir() -> Path:
    """Where the pinned upstream CRDs are: $SENSORCAST_UPSTREAM_CRDS, ../shared/crds, or the `make crds` cache.

    Every file must match its sha256 in hack/crds.lock.
    """
    candidates = []
    if os.environ.get("SENSORCAST_UPSTREAM_CRDS"):
        candidates.append(Path(os.environ["SENSORCAST_UPSTREAM_CRDS"]))
    candidates += [REPO.parent / "shared" / "crds", fetched_crd_dir()]
    for root in candidates:
        if root.is_dir() and _matches_lock(root):
            return root
    raise TestEnvError(f"upstream CRDs (Strimzi, SparkApplication) not found in {', '.join(map(str, candidates))} "
                       "or not matching hack/crds.lock: run `make crds` (downloads the pinned files)")


def fetched_crd_dir() -> Path:
    """The cache folder `make crds` downloads into (named by the lock file's hash)."""
    return CACHE / f"crds-{hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]}"


def crd_files() -> list[Path]:
    """The project's CRDs first, then the upstream ones of the lock file."""
    root = upstream_crd_dir()
    return sorted(PROJECT_CRDS.glob("*.yaml")) + [root / row["path"] for row in lock_entries()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver; use as a context manager or call start()/stop()."""

    workdir: Path | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    procs: list[subprocess.Popen] = field(default_factory=list)
    port: int = 0
    garbage_collector: bool = False
    _own_dir: bool = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "kubeconfig"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        assert self.workdir is not None
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def log_tail(self, name: str, lines: int = 40) -> str:
        assert self.workdir is not None
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def start(self, timeout: float = 180.0) -> None:
        etcd, apiserver = binary("etcd"), binary("kube-apiserver")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="sensorcast-kube-"))
            self._own_dir = True
        wd = self.workdir
        (wd / "certs").mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "genrsa", "-out", str(wd / "sa.key"), "2048"], check=True, capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", str(wd / "sa.key"), "-pubout", "-out", str(wd / "sa.pub")],
                       check=True, capture_output=True)
        (wd / "tokens.csv").write_text(f'{self.token},sensorcast-admin,sensorcast-admin,"system:masters"\n')
        client, peer = free_port(), free_port()
        self._spawn("etcd", [
            str(etcd), "--name=test", f"--data-dir={wd / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{client}", f"--advertise-client-urls=http://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=test=http://127.0.0.1:{peer}", "--unsafe-no-fsync", "--log-level=warn",
        ])
        self._wait(lambda: _http_ok(f"http://127.0.0.1:{client}/health"), "etcd", timeout)
        self.port = free_port()
        self._spawn("kube-apiserver", [
            str(apiserver), f"--etcd-servers=http://127.0.0.1:{client}", "--bind-address=127.0.0.1",
            f"--secure-port={self.port}", f"--cert-dir={wd / 'certs'}", f"--token-auth-file={wd / 'tokens.csv'}",
            "--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/16",
            f"--service-account-issuer=https://127.0.0.1:{self.port}",
            f"--service-account-key-file={wd / 'sa.pub'}", f"--service-account-signing-key-file={wd / 'sa.key'}",
            "--enable-priority-and-fairness=false", "--profiling=false", "--v=1",
        ])
        self._wait(lambda: self._get("/readyz") is not None, "kube-apiserver", timeout)
        self.write_kubeconfig()
        kcm = binary_path("kube-controller-manager")
        if os.access(kcm, os.X_OK):
            self._spawn("kube-controller-manager", [
                str(kcm), f"--kubeconfig={self.kubeconfig}", "--controllers=garbagecollector", "--leader-elect=false",
                "--use-service-account-credentials=false", "--secure-port=0", "--v=1",
            ])
            time.sleep(1.0)
            self._wait(lambda: True, "kube-controller-manager", timeout)  # fails if it exited at once
            self.garbage_collector = True

    def _wait(self, ready, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    self.stop()
                    raise TestEnvError(f"{proc.args[0]} exited with {proc.returncode} during start:\n"
                                       f"{self.log_tail(Path(proc.args[0]).name)}")
            if ready():
                return
            time.sleep(0.3)
        tail = self.log_tail(name)
        self.stop()
        raise TestEnvError(f"{name} not ready after {timeout:.0f} s:\n{tail}")

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the apiserver's self-signed loopback certificate
        return ctx

    def request(self, method: str, path: str, body: dict | None = None, accept: str = "application/json") -> dict:
        """One authenticated API call; returns the decoded JSON body (raises urllib.error.HTTPError)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Accept": accept, "Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self._ssl(), timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def _get(self, path: str) -> bytes | None:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, context=self._ssl(), timeout=5) as resp:
                return resp.read()
        except (urllib.error.URLError, OSError):
            return None

    def write_kubeconfig(self) -> Path:
        cfg = {
            "apiVersion": "v1", "kind": "Config", "current-context": "sensorcast-test",
            "clusters": [{"name": "sensorcast-test", "cluster": {"server": self.url,
                                                                 "insecure-skip-tls-verify": True}}],
            "users": [{"name": "sensorcast-admin", "user": {"token": self.token}}],
            "contexts": [{"name": "sensorcast-test", "context": {"cluster": "sensorcast-test",
                                                                 "user": "sensorcast-admin",
                                                                 "namespace": "default"}}],
        }
        self.kubeconfig.write_text(yaml.safe_dump(cfg))
        return self.kubeconfig

    def install_crds(self, files: list[Path] | None = None, timeout: float = 60.0) -> list[str]:
        """Create (or replace) every CRD of the files and wait until each is Established; returns their names."""
        names = []
        for path in files or crd_files():
            for doc in yaml.safe_load_all(path.read_text()):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                name = doc["metadata"]["name"]
                base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
                try:
                    self.request("POST", base, doc)
                except urllib.error.HTTPError as exc:
                    if exc.code != 409:
                        raise TestEnvError(f"{path}: CRD {name} rejected: {exc.read().decode()}") from exc
                    current = self.request("GET", f"{base}/{name}")
                    doc["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                    self.request("PUT", f"{base}/{name}", doc)
                names.append(name)
        deadline = time.monotonic() + timeout
        for name in names:
            while True:
                crd = self.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                conds = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])}
                if conds.get("Established") == "True":
                    break
                if time.monotonic() > deadline:
                    raise TestEnvError(f"CRD {name} not Established after {timeout:.0f} s: {conds}")
                time.sleep(0.2)
        return names

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the apiserver, then etcd; SIGKILL what is still up after `grace` seconds."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
        self.procs.clear()
        if self._own_dir and self.workdir is not None and not os.environ.get("SENSORCAST_KEEP_TESTENV"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="start the control plane, print KUBECONFIG, stop on Ctrl-C/SIGTERM")
    run.add_argument("--crds", action="store_true", help="install the project's and the upstream CRDs")
    run.add_argument("--dir", help="work folder (kept); default a temp dir removed at stop")
    sub.add_parser("crd-dir", help="print the folder of the pinned upstream CRDs")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "crd-dir":
            print(upstream_crd_dir())
            return 0
        cp = ControlPlane(workdir=Path(args.dir) if args.dir else None)
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        try:
            t0 = time.monotonic()
            cp.start()
            print(f"kube-apiserver ready at {cp.url} in {time.monotonic() - t0:.1f} s", flush=True)
            if args.crds:
                print("installed CRDs: " + ", ".join(cp.install_crds()), flush=True)
            print(f"export KUBECONFIG={cp.kubeconfig}", flush=True)
            while all(p.poll() is None for p in cp.procs):
                time.sleep(1)
            print("a control-plane process exited", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            cp.stop()  # also when start or the CRDs failed
    except TestEnvError as exc:
        print(f"kube_testenv: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
