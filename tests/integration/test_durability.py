"""No callback is lost to a crash: ``taskforce serve`` runs as a subprocess on a SQLite file
while test-mode tasks are created and completed (by its simulated worker) and their callbacks go
out to a slow-ish receiver; it is killed with SIGKILL at random moments, several times, and
restarted. In the end every completed task's callback has arrived at least once, and every
repeat of a task's callback carried the same ``webhook-id``."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from taskforce import migrate
from taskforce.db import Database
from taskforce.models import deliveries, tasks

from tests.conftest import free_port
from tests.factories import VALID_PARAMS, Factory
from tests.integration.test_callback_helpers import STARTUP_SECONDS, Answer, Receiver

KILLS = 5
CALLBACK_TIMEOUT = 1  # the claim lease is 2 × this + 5 s: what a killed in-flight send waits


class Server:
    def __init__(self, database_url: str, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TASKFORCE_DATABASE_URL": database_url,
            "TASKFORCE_SECRET_KEY": "durability-test",
            "TASKFORCE_RUN_DISPATCHER": "true",
            "TASKFORCE_CALLBACK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
            "TASKFORCE_TEST_MODE_DELAY_SECONDS": "0.05",
            "TASKFORCE_CALLBACK_TIMEOUT_SECONDS": str(CALLBACK_TIMEOUT),
        }
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self, key: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "taskforce", "serve", "--port", str(self.port)],
            env=self.env, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/tasks?limit=1", auth=(key, ""), timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, "server exited"
            time.sleep(0.05)
        raise AssertionError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigkill_at_random_moments_loses_no_callback(tmp_path: Path):
    rng = random.Random()
    database_url = f"sqlite:///{tmp_path / 'durable.db'}"
    migrate.upgrade(database_url)
    db = Database(database_url)
    customer = Factory(db).customer()
    server = Server(database_url, tmp_path)
    # Receivers answer after 0–80 ms, so kills often land with callbacks in flight.
    receiver = Receiver(answer=lambda n, _: Answer(delay=rng.uniform(0, 0.08)))
    created: list[str] = []
    stop_creating = threading.Event()

    def create_tasks() -> None:
        body = {**VALID_PARAMS["categorization"], "callback_url": receiver.url}
        with httpx.Client(auth=customer.test_auth, timeout=2) as client:
            while not stop_creating.is_set():
                try:
                    r = client.post(f"{server.url}/v1/task/categorize", json=body)
                    if r.status_code == 200:
                        created.append(r.json()["task_id"])
                except httpx.HTTPError:
                    time.sleep(0.02)  # the server is down: wait for the restart

    creator = threading.Thread(target=create_tasks, daemon=True)
    with receiver:
        try:
            server.start(customer.test_key)
            creator.start()
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.3, 1.5))
                server.kill()
                server.start(customer.test_key)
            time.sleep(rng.uniform(0.3, 1.0))
            stop_creating.set()
            creator.join(timeout=10)

            # The last server drains everything owed, including the claims the killed ones held.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with db.read() as conn:
                    owed = conn.execute(select(func.count()).select_from(deliveries)
                                        .where(deliveries.c.status != "delivered")).scalar()
                    unanswered = conn.execute(select(func.count()).select_from(tasks)
                                              .where(tasks.c.status != "completed")).scalar()
                if not owed and not unanswered:
                    break
                time.sleep(0.2)
        finally:
            stop_creating.set()
            server.stop()
        received = list(receiver.requests)

    with db.read() as conn:
        completed = dict(conn.execute(
            select(tasks.c.id, deliveries.c.webhook_id).join(deliveries, deliveries.c.task_id == tasks.c.id)
            .where(tasks.c.status == "completed")).all())
        all_tasks = conn.execute(select(func.count()).select_from(tasks)).scalar()
    db.dispose()

    assert len(created) > 20, "too few tasks were created to prove anything"
    assert set(created) <= set(completed), "a task the API acknowledged is missing or unanswered"
    assert len(completed) == all_tasks

    by_task: dict[str, set[str]] = collections.defaultdict(set)
    for r in received:
        by_task[r.json["task_id"]].add(r.headers["webhook-id"])
    missing = set(completed) - set(by_task)
    assert not missing, f"{len(missing)} of {len(completed)} completed tasks never got a callback"
    for task_id, ids in by_task.items():
        assert ids == {completed[task_id]}, f"task {task_id}: repeats must share the webhook-id"
    duplicates = len(received) - len(by_task)
    print(f"\n{len(completed)} tasks, {KILLS} SIGKILLs, {len(received)} callbacks received, "
          f"{duplicates} repeats (at least once), none lost")
