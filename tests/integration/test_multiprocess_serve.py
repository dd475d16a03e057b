"""`taskforce serve --workers N` runs N API processes on one database, on both backends: requests
spread over them, every create lands exactly once, and the total agrees."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.integration.test_callback_helpers import STARTUP_SECONDS

ROOT = Path(__file__).resolve().parents[2]
BODY = {"callback_url": "http://www.example.com/callback", "instruction": "Public or private?",
        "attachment_type": "website", "attachment": "http://www.google.com/",
        "categories": ["public", "private"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_serve_with_several_worker_processes(db, factory, tmp_path) -> None:
    customer = factory.customer()
    port = _free_port()
    env = {**os.environ, "TASKFORCE_DATABASE_URL": db.url, "TASKFORCE_SECRET_KEY": "test",
           "TASKFORCE_SECRET_FILE": str(tmp_path / "secret"), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "taskforce", "serve", "--workers", "2",
                             "--port", str(port), "--no-dispatcher"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, "serve exited"
            try:
                if httpx.get(base + "/v1/tasks", auth=customer.live_auth).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.1)
        # uvicorn's supervisor runs one process per worker.
        assert len(_children(proc.pid)) >= 2

        client = httpx.Client(base_url=base, auth=customer.live_auth, timeout=30,
                              limits=httpx.Limits(max_keepalive_connections=0))  # spread over workers

        def create(_: int) -> str:
            response = client.post("/v1/task/categorize", json=BODY)
            assert response.status_code == 200, response.text
            return response.json()["task_id"]

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(create, range(60)))
        client.close()
        assert len(set(ids)) == 60
        listing = httpx.get(base + "/v1/tasks?limit=100", auth=customer.live_auth).json()
        assert listing["total"] == 60 and len(listing["docs"]) == 60
    finally:
        proc.terminate()
        proc.wait(timeout=20)
