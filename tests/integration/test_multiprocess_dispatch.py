"""Several `taskforce dispatch` processes against one database: every owed callback is delivered,
none is lost, and no delivery is ever being sent by two dispatchers at the same time (they claim
with FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import func, select

from taskforce.callbacks import outbox
from taskforce.models import deliveries

ROOT = Path(__file__).resolve().parents[2]
DISPATCHERS = 3
DELIVERIES = 300


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # 3 dispatchers × 64 connections at once; the default 5 refuses some

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received: list[str] = []
        self.in_flight: set[str] = set()
        self.overlaps = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        server: _Receiver = self.server  # type: ignore[assignment]
        self.rfile.read(int(self.headers.get("content-length", "0")))
        webhook_id = self.headers.get("webhook-id", "")
        with server.lock:
            server.received.append(webhook_id)
            if webhook_id in server.in_flight:
                server.overlaps += 1
            server.in_flight.add(webhook_id)
        time.sleep(0.02)  # a receiver that takes a moment widens any window for a double send
        with server.lock:
            server.in_flight.discard(webhook_id)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


def test_dispatch_processes_never_send_one_delivery_twice_at_once(db, factory) -> None:
    receiver = _Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/cb"
    customer = factory.customer()
    owed = [factory.task(customer, callback_url=url) for _ in range(DELIVERIES)]

    env = {**os.environ, "TASKFORCE_DATABASE_URL": db.url, "TASKFORCE_SECRET_KEY": "test",
           "TASKFORCE_CALLBACK_ALLOWED_NETWORKS": '["127.0.0.0/8"]', "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "taskforce", "dispatch"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for _ in range(DISPATCHERS)]
    try:
        for p in procs:
            assert "running" in p.stdout.readline()  # started, connected, polling
        with db.write() as conn:  # owed all at once, while every dispatcher is polling
            for task in owed:
                outbox.enqueue(conn, task, now=0)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            with db.read() as conn:
                done = conn.execute(select(func.count()).select_from(deliveries)
                                    .where(deliveries.c.status == "delivered")).scalar_one()
            if done == DELIVERIES:
                break
            time.sleep(0.2)
        assert all(p.poll() is None for p in procs), "a dispatcher died"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        receiver.shutdown()

    assert done == DELIVERIES, "a delivery was lost"
    assert receiver.overlaps == 0, "a delivery was being sent twice at the same time"
    assert sorted(receiver.received) == sorted(set(receiver.received))  # and, here, exactly once
    assert len(receiver.received) == DELIVERIES
    with db.read() as conn:
        failed_first = conn.execute(select(deliveries.c.id, deliveries.c.last_error)
                                    .where(deliveries.c.attempts != 1)).all()
    assert failed_first == []
