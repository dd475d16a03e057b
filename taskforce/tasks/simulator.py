"""Test mode's simulated worker: answers every pending test task ``test_mode_delay_seconds``
after its creation, with a valid response chosen deterministically from the task (the type's
``simulated_response``), through the same ``service.complete`` as a person — so the outbox row
and the callback are exactly those of a live task.

It wakes on the in-process TEST_TASK_CREATED signal, sleeps until the oldest pending test task
is due, and polls as a fallback for tasks created by other processes. Several simulators at once
are safe: ``complete`` only changes a task that is still pending, and on PostgreSQL rows another
simulator is completing are skipped rather than waited for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from taskforce import signals as signal_topics
from taskforce.clock import now_ms
from taskforce.db import Database
from taskforce.errors import TaskforceError
from taskforce.models import TEST_PENDING, tasks
from taskforce.signals import Signals
from taskforce.task_types import REGISTRY
from taskforce.tasks import service

log = logging.getLogger(__name__)

BATCH = 200


def _pending_test(conn: Connection):
    # The partial index's own predicate (models.TEST_PENDING), so the planner sees it applies.
    return TEST_PENDING.clause(conn.dialect.name)


def complete_due(conn: Connection, *, now: int, delay_ms: int, limit: int = BATCH) -> list[str]:
    """Complete the test tasks created at least ``delay_ms`` ago; returns their ids."""
    query = (
        select(tasks.c.id, tasks.c.type, tasks.c.params)
        .where(_pending_test(conn), tasks.c.created_at <= now - delay_ms)
        .order_by(tasks.c.created_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    done = []
    for row in conn.execute(query).all():
        try:
            answer = REGISTRY.get(row.type).simulated_response(row.id, row.params)
            service.complete(conn, row.id, answer, worker_id=None, lease_token=None, now=now)
        except (TaskforceError, KeyError) as exc:
            # Canceled meanwhile, or a type whose simulated answer does not validate (a bug).
            log.warning("simulated worker could not complete test task %s: %s", row.id, exc)
            continue
        done.append(row.id)
    return done


def oldest_pending(conn: Connection) -> int | None:
    return conn.execute(select(func.min(tasks.c.created_at)).where(_pending_test(conn))).scalar()


class SimulatedWorker:
    def __init__(self, db: Database, *, delay_seconds: float, signals: Signals | None = None,
                 clock: Callable[[], int] = now_ms, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.delay_ms = max(0, int(delay_seconds * 1000))
        self.signals = signals
        self.clock = clock
        self.poll_seconds = poll_seconds

    def step(self) -> tuple[list[str], int | None]:
        """Complete what is due; returns the ids and when the next pending test task is due."""
        with self.db.write() as conn:
            done = complete_due(conn, now=self.clock(), delay_ms=self.delay_ms)
        with self.db.read() as conn:
            oldest = oldest_pending(conn)
        return done, (None if oldest is None else oldest + self.delay_ms)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        if self.signals is not None:
            self.signals.subscribe(signal_topics.TEST_TASK_CREATED, signal_topics.waker(loop, wake))
        while True:
            wake.clear()
            try:
                done, due = await asyncio.to_thread(self.step)
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.exception("simulated worker: database step failed; retrying")
                done, due = [], None
            if len(done) >= BATCH:
                continue
            wait = self.poll_seconds
            # A task still due after a step failed to complete (logged): do not spin on it.
            if due is not None and (done or due > self.clock()):
                wait = min(wait, max(0.0, (due - self.clock()) / 1000))
            if wait > 0:
                await signal_topics.wait_woken(wake, wait)
