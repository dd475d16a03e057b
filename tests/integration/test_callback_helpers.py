"""Shared pieces of the callback tests (no tests here): a real HTTP receiver on a loopback address
that records what arrives and answers as told, a controllable clock, and task helpers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from sqlalchemy import select

from taskforce.clock import now_ms
from taskforce.db import Database
from taskforce.models import customers, deliveries, delivery_attempts, tasks
from taskforce.tasks import service

#: How long a test waits for a ``taskforce serve`` it started to answer: a loaded 2-core CI
#: machine took 80 s for two worker processes (each importing the app at a tenth of a core).
#: A wait for a condition, not a bound: a server that answers sooner ends it sooner.
STARTUP_SECONDS = 180


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


class Receiver:
    """A threaded HTTP server on ``host`` (loopback only) recording every request.

    ``answer`` decides the response to the n-th request (0-based): an Answer, or a callable
    taking n and the request and returning one.
    """

    def __init__(self, host: str = "127.0.0.1",
                 answer: Answer | Callable[[int, Received], Answer] | None = None) -> None:
        assert host.startswith("127."), "tests only ever talk to loopback"
        self.requests: list[Received] = []
        self.answer = answer or Answer()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    return  # the sender died mid-request: nothing was delivered
                got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                               time.monotonic())
                with receiver.arrived:
                    n = len(receiver.requests)
                    receiver.requests.append(got)
                    receiver.arrived.notify_all()
                answer = receiver.answer(n, got) if callable(receiver.answer) else receiver.answer
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for k, v in answer.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            do_POST = _serve
            do_GET = _serve

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # Dispatchers open up to 64 connections at once; the default backlog (5) refuses some.
            request_queue_size = 512

            def handle_error(self, request, client_address) -> None:
                pass  # senders killed mid-request (the durability test) reset connections

        self.server = Server((host, 0), Handler)
        self.server.daemon_threads = True
        self.host = host
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        # Generous: it returns as soon as the requests are here, and a loaded 2-core CI machine
        # has taken several seconds for a delivery that takes milliseconds on a quiet one.
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
                self.arrived.wait(left)
            return list(self.requests)


class Clock:
    """A clock the test moves by hand (integer ms, like the rest of Taskforce)."""

    def __init__(self, start: int | None = None) -> None:
        self.now = start if start is not None else now_ms()

    def __call__(self) -> int:
        return self.now

    def advance_to(self, ms: int) -> None:
        self.now = max(self.now, ms)


def completed_test_task(db: Database, factory, customer, url: str, *, now: int | None = None,
                        **overrides: Any) -> dict[str, Any]:
    """A test-mode task completed (as the simulated worker would): its delivery is owed."""
    from taskforce.task_types import REGISTRY

    task = factory.task(customer, is_test=True, callback_url=url, now=now, **overrides)
    answer = REGISTRY.get(task["type"]).simulated_response(task["id"], task["params"])
    with db.write() as conn:
        return service.complete(conn, task["id"], answer, worker_id=None, lease_token=None, now=now)


def completed_live_task(db: Database, factory, customer, url: str, *, now: int | None = None) -> dict[str, Any]:
    """A live task claimed and answered by a worker through the real service."""
    task = factory.task(customer, callback_url=url, now=now)
    worker = factory.user("worker")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600, now=now)
        assert lease is not None and lease.task_id == task["id"]
        return service.complete(conn, task["id"], {"category": "public"}, worker_id=worker["id"],
                                lease_token=lease.token, now=now)


def delivery_rows(db: Database, task_id: str | None = None) -> list[dict[str, Any]]:
    query = select(deliveries).order_by(deliveries.c.id)
    if task_id is not None:
        query = query.where(deliveries.c.task_id == task_id)
    with db.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def attempt_rows(db: Database, delivery_id: int) -> list[dict[str, Any]]:
    with db.read() as conn:
        return [dict(r) for r in conn.execute(
            select(delivery_attempts).where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.id)).mappings()]


def callback_succeeded(db: Database, task_id: str) -> bool | None:
    with db.read() as conn:
        return conn.execute(select(tasks.c.callback_succeeded).where(tasks.c.id == task_id)).scalar()


def customer_row(db: Database, customer_id: int) -> dict[str, Any]:
    with db.read() as conn:
        return dict(conn.execute(select(customers).where(customers.c.id == customer_id)).mappings().one())


@contextlib.contextmanager
def dispatch_process(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen]:
    """``taskforce dispatch`` as its own OS process, stopped with Ctrl-C (killed if it hangs)."""
    proc = subprocess.Popen([sys.executable, "-m", "taskforce", "dispatch"], env={**os.environ, **env},
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
