"""Shared by the benchmarks: fresh databases on both backends, servers in child processes, wrk,
and peak-RSS sampling. Nothing here is imported by Taskforce itself."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("TASKFORCE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SECRET = "bench-secret-key"

sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# -- databases ---------------------------------------------------------------------------------

class BenchDatabase:
    """A fresh, migrated database for one benchmark on one backend; removed by ``drop()``."""

    def __init__(self, backend: str) -> None:
        from sqlalchemy import create_engine, text

        from taskforce import migrate

        self.backend = backend
        if backend == "sqlite":
            self._dir = Path(tempfile.mkdtemp(prefix="taskforce-bench-"))
            self.url = f"sqlite:///{self._dir / 'bench.db'}"
        else:
            self.name = f"taskforce_bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
            self.url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{self.name}"
        migrate.upgrade(self.url)

    def database(self, pool_size: int = 4):
        from taskforce.db import Database

        return Database(self.url, pool_size=pool_size)

    def drop(self) -> None:
        from sqlalchemy import create_engine, text

        if self.backend == "sqlite":
            shutil.rmtree(self._dir, ignore_errors=True)
            return
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()

    def vacuum(self) -> None:
        """What the server's autovacuum would have done by the time a table is this old."""
        from sqlalchemy import create_engine

        engine = create_engine(self.url, isolation_level="AUTOCOMMIT") if self.backend != "sqlite" else create_engine(self.url)
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE" if self.backend != "sqlite" else "ANALYZE")
        engine.dispose()


def pg_available() -> str | None:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{exc.__class__.__name__}: {exc}".splitlines()[0]


@dataclass
class Account:
    customer_id: int
    live_key: str
    test_key: str

    @property
    def auth_header(self) -> str:
        import base64

        return "Basic " + base64.b64encode(f"{self.live_key}:".encode()).decode()


def make_customer(db, name: str) -> Account:
    from taskforce import customers

    with db.write() as conn:
        cid = customers.create_customer(conn, name)
        live = customers.create_api_key(conn, cid, "live")
        test = customers.create_api_key(conn, cid, "test")
    return Account(cid, live, test)


# -- servers -----------------------------------------------------------------------------------

@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    rss: RssSampler = field(default=None)  # type: ignore[assignment]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.rss:
            self.rss.stop()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _env(database_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TASKFORCE_DATABASE_URL": database_url,
        "TASKFORCE_SECRET_KEY": SECRET,
        "TASKFORCE_CALLBACK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "PYTHONPATH": str(ROOT),
    })
    env.update(extra or {})
    return env


def start_taskforce(database_url: str, *, workers: int = 1, dispatcher: bool = False,
                    extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    args = [str(VENV_BIN / "taskforce"), "serve", "--port", str(port), "--workers", str(workers)]
    if not dispatcher:
        args.append("--no-dispatcher")
    proc = subprocess.Popen(args, env=_env(database_url, extra_env), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE if False else None)
    wait_for_port(port, proc)
    server = Server(proc, port)
    server.rss = RssSampler(proc.pid)
    return server


def start_baseline(database_url: str) -> Server:
    """The minimal Starlette app (bench/baseline_app.py), served the way ``serve`` serves."""
    port = free_port()
    args = [str(VENV_BIN / "uvicorn"), "bench.baseline_app:app", "--port", str(port),
            "--host", "127.0.0.1", "--loop", "uvloop", "--http", "httptools",
            "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(args, env=_env(database_url, {"BASELINE_DATABASE_URL": database_url}),
                            cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_for_port(port, proc)
    return Server(proc, port)


# -- memory ------------------------------------------------------------------------------------

def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class RssSampler:
    """Peak resident memory of a process tree, per process, sampled every 100 ms."""

    #: Peaks per process across every server of the run (the memory benchmark reads it).
    all_peaks_kb: dict[str, int] = {}

    def __init__(self, pid: int, label: str = "") -> None:
        self.pid = pid
        self.label = label
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in [self.pid, *_children(self.pid)]:
                self.peaks[pid] = max(self.peaks.get(pid, 0), _rss_kb(pid))
            self._stop.wait(0.1)

    def peak_mb(self) -> float:
        return max(self.peaks.values(), default=0) / 1024

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


# -- wrk ---------------------------------------------------------------------------------------

def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    print("wrk is missing: installing the Debian package", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=False,
                   stdout=subprocess.DEVNULL)
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return path


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers plus socket errors


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, script: Path, *, seconds: int = 10, connections: int = 64,
            env: dict[str, str] | None = None) -> WrkResult:
    out = subprocess.run(
        [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency",
         "-s", str(script), url],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return WrkResult(rps, p50, p99, total, errors)


# -- reporting ---------------------------------------------------------------------------------

def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def keep_alive_get(port: int):
    """A GET function over one kept-alive connection: what a paging client does."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    return get
