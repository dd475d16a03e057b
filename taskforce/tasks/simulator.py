"""Test mode's simulated worker: answers every pending test task ``test_mode_delay_seconds``
after its creation, with a valid response chosen deterministically from the task (the type's
``simulated_response``), through the same ``service.complete`` as a person — so the outbox row
and the callback are exactly those of a live task. A task collecting several answers (overlap)
is answered by a simulated crowd instead (``CROWD_ACCURACY``: workers of different accuracy and
one spammer), so a customer sees combining, confidence and ``/answers`` before any person works.

It wakes on the in-process TEST_TASK_CREATED signal, sleeps until the oldest pending test task
is due, and polls as a fallback for tasks created by other processes. Several simulators at once
are safe: ``complete`` only changes a task that is still pending, and on PostgreSQL rows another
simulator is completing are skipped rather than waited for.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from sqlalchemy import and_, delete, exists, func, insert, select
from sqlalchemy.engine import Connection

from taskforce import pg_wakeups
from taskforce import signals as signal_topics
from taskforce.clock import now_ms
from taskforce.db import Database, is_disconnect
from taskforce.errors import LeaseLost, NotFound
from taskforce.models import TEST_PENDING, assignments, customers, tasks
from taskforce.request_log import log_event
from taskforce.signals import Signals
from taskforce.task_types import REGISTRY
from taskforce.tasks import service

log = logging.getLogger(__name__)

BATCH = 200
#: The outcome of the (worker-less, closed) assignment that marks a test task the simulated
#: worker cannot complete, so it is not tried again every second.
SET_ASIDE = "set_aside"


def _pending_test(conn: Connection):
    # The partial index's own predicate (models.TEST_PENDING), so the planner sees it applies.
    return TEST_PENDING.clause(conn.dialect.name)


def _set_aside_mark():
    return exists().where(assignments.c.task_id == tasks.c.id, assignments.c.outcome == SET_ASIDE)


def _waiting(conn: Connection):
    """Pending test tasks (outside unfinalised batches) the simulated worker has not set aside,
    nor sent to an operator's review."""
    return and_(_pending_test(conn), ~_set_aside_mark(), tasks.c.review_state.is_(None))


#: Test mode's simulated crowd (a task collecting several answers): each simulated worker gives
#: the type's ``simulated_response`` (the "truth") with its accuracy, else another valid answer;
#: ``None`` is the spammer, who answers at random. As many as the most answers a task may take.
CROWD_ACCURACY: tuple[float | None, ...] = (0.95, 0.9, None, 0.8, 0.85, 0.75, 0.9, 0.7, 0.85)


def crowd_answer(task_type, task_id: str, params, worker: int) -> dict:
    """Simulated worker ``worker``'s answer: deterministic per task and worker, so a test run
    can be repeated."""
    accuracy = CROWD_ACCURACY[worker % len(CROWD_ACCURACY)]
    draw = random.Random(f"{task_id}:{worker}").random()
    if accuracy is not None and draw < accuracy:
        return task_type.simulated_response(task_id, params)
    return task_type.simulated_response(f"{task_id}:{'spam' if accuracy is None else 'slip'}:{worker}", params)


_STATE = select(tasks.c.type, tasks.c.params, tasks.c.status, tasks.c.answers_needed, tasks.c.answers_submitted,
                tasks.c.max_answers, tasks.c.min_confidence, tasks.c.review_state)


def _answer(conn: Connection, task_id: str, now: int) -> None:
    """Give the task every answer it needs: one, exactly as before, or the simulated crowd's, one
    simulated worker after another, until it is final or waits for review."""
    row = conn.execute(_STATE.where(tasks.c.id == task_id)).one()
    task_type = REGISTRY.get(row.type)
    if row.answers_needed == 1 and row.max_answers is None and row.min_confidence is None:
        answer = task_type.simulated_response(task_id, row.params)
        service.complete(conn, task_id, answer, worker_id=None, lease_token=None, now=now)
        return
    while row.status == "pending" and row.review_state is None and row.answers_submitted < row.answers_needed:
        worker = row.answers_submitted  # a simulated worker never answers one task twice
        service.complete(conn, task_id, crowd_answer(task_type, task_id, row.params, worker),
                         worker_id=None, lease_token=None, now=now, simulated_worker=worker)
        row = conn.execute(_STATE.where(tasks.c.id == task_id)).one()


def set_aside(conn: Connection) -> list[dict]:
    """The pending test tasks the simulated worker could not complete (for operators), with when
    it gave up on each (``set_aside_at``) and the customer's name."""
    mark = assignments.alias("mark")
    return [dict(r) for r in conn.execute(
        select(tasks.c.id, tasks.c.customer_id, customers.c.name.label("customer_name"), tasks.c.type,
               tasks.c.created_at, mark.c.finished_at.label("set_aside_at"))
        .join(customers, customers.c.id == tasks.c.customer_id)
        .join(mark, and_(mark.c.task_id == tasks.c.id, mark.c.outcome == SET_ASIDE))
        .where(_pending_test(conn))
        .order_by(tasks.c.created_at, tasks.c.id)).mappings()]


def retry_set_aside(conn: Connection, task_id: str) -> bool:
    """Clear the simulated worker's mark on a test task it set aside, so it tries the task again
    (once whatever stopped it is mended); False when the task is not set aside. The mark is
    deleted, not rewritten: a second failure writes a new one under the same lease token."""
    cleared = conn.execute(delete(assignments).where(
        assignments.c.task_id == task_id, assignments.c.outcome == SET_ASIDE,
        exists().where(tasks.c.id == task_id, tasks.c.status == "pending"))).rowcount
    if cleared:
        pg_wakeups.wake(conn, signal_topics.TEST_TASK_CREATED)
    return bool(cleared)


def cancel_set_aside(conn: Connection, task_id: str, *, now: int) -> dict | None:
    """Cancel a test task the simulated worker set aside, as its customer could; None when the
    task is not (or no longer) a pending set-aside test task."""
    customer_id = conn.execute(select(tasks.c.customer_id).where(
        tasks.c.id == task_id, _pending_test(conn), _set_aside_mark())).scalar()
    if customer_id is None:
        return None
    return service.cancel(conn, task_id, customer_id=customer_id, is_test=True, now=now)


def complete_due(conn: Connection, *, now: int, delay_ms: int, limit: int = BATCH) -> list[str]:
    """Complete the test tasks created at least ``delay_ms`` ago; returns their ids."""
    query = (
        select(tasks.c.id)
        .where(_waiting(conn), tasks.c.created_at <= now - delay_ms)
        .order_by(tasks.c.created_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    done = []
    for task_id in conn.execute(query).scalars().all():
        # Each task in a savepoint: one that cannot be completed (its stored data cannot be
        # read, answered or written into a callback) is set aside, and the rest carry on.
        savepoint = conn.begin_nested()
        try:
            _answer(conn, task_id, now)
        except Exception as exc:
            if savepoint.is_active:
                savepoint.rollback()
            if is_disconnect(exc):
                raise
            if isinstance(exc, (LeaseLost, NotFound)):
                continue  # canceled meanwhile
            # The first line only: a database error goes on with the statement and its parameters.
            log.error("simulated worker set aside test task %s, which it cannot complete: %s: %s",
                      task_id, exc.__class__.__name__, (str(exc).strip().splitlines() or [""])[0])
            conn.execute(insert(assignments).values(
                task_id=task_id, worker_id=None, lease_token=f"x{task_id}", claimed_at=now,
                finished_at=now, outcome=SET_ASIDE))
            continue
        savepoint.commit()
        done.append(task_id)
    return done


def oldest_pending(conn: Connection) -> int | None:
    return conn.execute(select(func.min(tasks.c.created_at)).where(_waiting(conn))).scalar()


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
        for task_id in done:  # once committed
            log_event(log, "simulated worker completed test task", task_id=task_id)
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
