"""SIGTERM to real `taskforce serve` and `taskforce dispatch` processes: a request whose body is
still arriving is answered, a callback whose receiver is still answering is recorded as
delivered, the process exits 0, and leases and owed callbacks are left for the next start."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import orjson
from sqlalchemy import select

from taskforce.models import assignments, deliveries, tasks
from taskforce.tasks import service

from tests.factories import VALID_PARAMS
from tests.integration.test_callback_helpers import STARTUP_SECONDS, Answer, Receiver
from tests.integration.test_multiprocess_serve import ROOT, _free_port


def _env(db, tmp_path) -> dict:
    return {**os.environ, "TASKFORCE_DATABASE_URL": db.url, "TASKFORCE_SECRET_KEY": "test",
            "TASKFORCE_SECRET_FILE": str(tmp_path / "secret"), "PYTHONPATH": str(ROOT),
            "TASKFORCE_TEST_MODE_DELAY_SECONDS": "0.05", "TASKFORCE_SHUTDOWN_GRACE_SECONDS": "15",
            "TASKFORCE_CALLBACK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}


def _wait_listening(port: int, proc) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        assert proc.poll() is None, "the process exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def _delivery(db, task_id: str):
    with db.read() as conn:
        return conn.execute(select(deliveries).where(deliveries.c.task_id == task_id)).mappings().first()


def _owed_and_leased(db, factory, customer):
    """A lease held by a worker and a callback owed for later: both must outlive the restart."""
    leased = factory.task(customer)
    worker = factory.user("worker")
    owed = factory.task(customer, is_test=True, callback_url="http://127.0.0.1:9/never")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600)
        service.complete(conn, owed["id"], {"category": "public"}, worker_id=None, lease_token=None)
        conn.execute(deliveries.update().where(deliveries.c.task_id == owed["id"])
                     .values(next_attempt_at=deliveries.c.next_attempt_at + 3_600_000))
    assert lease.task_id == leased["id"]
    return lease, owed


def _still_there(db, lease, owed) -> None:
    with db.read() as conn:
        row = conn.execute(select(assignments.c.outcome, assignments.c.lease_expires_at)
                           .where(assignments.c.lease_token == lease.token,
                                  assignments.c.task_id == lease.task_id)).one()
    assert row.outcome is None and row.lease_expires_at == lease.expires_at  # still held
    assert _delivery(db, owed["id"])["status"] == "pending"


def test_serve_finishes_requests_and_deliveries_in_flight_on_sigterm(db, factory, tmp_path):
    customer = factory.customer()
    lease, owed = _owed_and_leased(db, factory, customer)
    port = _free_port()
    with Receiver(answer=Answer(delay=2)) as receiver:
        proc = subprocess.Popen([sys.executable, "-m", "taskforce", "serve", "--port", str(port)],
                                env=_env(db, tmp_path), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            _wait_listening(port, proc)
            # A test task whose callback the receiver will take 2 s to answer.
            body = orjson.dumps({**VALID_PARAMS["categorization"], "callback_url": receiver.url})
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(_request(customer.test_key, body))
                assert b"200 OK" in s.recv(65536)
            receiver.wait_for(1, timeout=30)  # the callback is now in flight
            # A create whose body is only half sent when the signal arrives.
            slow = socket.create_connection(("127.0.0.1", port))
            request = _request(customer.live_key, orjson.dumps(VALID_PARAMS["categorization"]))
            slow.sendall(request[:-20])
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            slow.sendall(request[-20:])
            answer = _read_to_close(slow)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer[:200]
    created = orjson.loads(answer.split(b"\r\n\r\n", 1)[1])
    with db.read() as conn:
        assert conn.execute(select(tasks.c.id).where(tasks.c.id == created["task_id"])).first()
    test_task = orjson.loads(receiver.requests[0].body)["task_id"]
    delivered = _delivery(db, test_task)
    assert delivered["status"] == "delivered" and delivered["attempts"] == 1
    _still_there(db, lease, owed)


def test_dispatch_finishes_a_delivery_in_flight_on_sigterm(db, factory, tmp_path):
    customer = factory.customer()
    lease, owed = _owed_and_leased(db, factory, customer)
    with Receiver(answer=Answer(delay=2)) as receiver:
        task = factory.task(customer, is_test=True, callback_url=receiver.url)
        with db.write() as conn:
            service.complete(conn, task["id"], {"category": "public"}, worker_id=None, lease_token=None)
        proc = subprocess.Popen([sys.executable, "-m", "taskforce", "dispatch"],
                                env=_env(db, tmp_path), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=open(tmp_path / "dispatch.log", "wb"))
        try:
            receiver.wait_for(1, timeout=30)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    delivered = _delivery(db, task["id"])
    assert delivered["status"] == "delivered" and delivered["attempts"] == 1, (tmp_path / "dispatch.log").read_text()
    _still_there(db, lease, owed)


def _read_to_close(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


def _request(key: str, body: bytes) -> bytes:
    import base64

    auth = base64.b64encode(f"{key}:".encode()).decode()
    return (f"POST /v1/task/categorize HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body
