"""Everything that changes a task goes through here. Each function takes the connection of the
caller's unit of work and never commits: the caller's ``with db.write()`` block does.

State changes are guarded UPDATEs: the WHERE clause states what must still be true, and zero rows
changed means something else got there first (a cancel, another worker, an expired lease). The
database settles every race, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    exists,
    false,
    insert,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.engine import Connection

from taskforce import batches, ids, pg_wakeups, signals
from taskforce.callbacks import outbox
from taskforce.clock import now_ms
from taskforce.errors import LeaseLost, NotCancelable, NotFound
from taskforce.models import assignments, task_skips, tasks, users
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import CreateParams, TaskType
from taskforce.tasks.representation import TASK_COLUMNS
from taskforce.tasks.status import PRIORITY, Status

_task_cols = [tasks.c[name] for name in TASK_COLUMNS]


_INSERT_TASK = insert(tasks)  # built once: the statement's cache key is then computed once


def create(
    conn: Connection,
    *,
    customer_id: int,
    is_test: bool,
    task_type: TaskType,
    params: CreateParams,
    now: int | None = None,
) -> dict[str, Any]:
    """Insert a pending task; returns the row as ``task_object`` wants it."""
    row = {
        "id": ids.new_task_id(),
        "customer_id": customer_id,
        "is_test": is_test,
        "type": task_type.name,
        "status": Status.PENDING.value,
        "urgency": params.urgency,
        "priority": PRIORITY[params.urgency],
        "instruction": params.instruction,
        "callback_url": params.callback_url,
        "params": params.task_params(),
        "metadata": params.metadata,
        "response": None,
        "created_at": now if now is not None else now_ms(),
        "completed_at": None,
        "callback_succeeded": None,
        "project": params.project,
        "batch": params.batch,
        "unique_id": params.unique_id,
    }
    conn.execute(_INSERT_TASK, row)
    if is_test:
        pg_wakeups.notify(conn, signals.TEST_TASK_CREATED)
    return row


def _get_statement(scoped: bool, by_mode: bool):
    query = select(*_task_cols, tasks.c.customer_id, tasks.c.is_test).where(
        tasks.c.id == bindparam("b_id"))
    if scoped:
        query = query.where(tasks.c.customer_id == bindparam("b_customer"))
    if by_mode:
        query = query.where(tasks.c.is_test == bindparam("b_is_test"))
    return query


# Built once, like every statement on the API's and the queue's hot paths: building a statement
# and its cache key per call cost more than running it (bench/README.md, the queue profile).
_GET = {(scoped, by_mode): _get_statement(scoped, by_mode)
        for scoped in (False, True) for by_mode in (False, True)}


def get(
    conn: Connection, task_id: str, *, customer_id: int | None = None, is_test: bool | None = None
) -> dict[str, Any]:
    """The task, seen from a customer (scoped) or from the workforce (unscoped)."""
    query = _GET[(customer_id is not None, is_test is not None)]
    row = conn.execute(query, {"b_id": task_id, "b_customer": customer_id,
                               "b_is_test": is_test}).mappings().first()
    if row is None:
        raise NotFound(f"no task with task_id {task_id!r}")
    return dict(row)


def cancel(
    conn: Connection, task_id: str, *, customer_id: int, is_test: bool | None, now: int | None = None,
    clear_unique_id: bool = False,
) -> dict[str, Any]:
    """Cancel a pending task; ``clear_unique_id`` frees its unique_id for a new task (scaleapi
    2.x's ``cancel_task(…, clear_unique_id=True)``)."""
    now = now if now is not None else now_ms()
    scope = [tasks.c.id == task_id, tasks.c.customer_id == customer_id]
    if is_test is not None:
        scope.append(tasks.c.is_test == is_test)
    values: dict[str, Any] = dict(status=Status.CANCELED.value, canceled_at=now,
                                  lease_worker_id=None, lease_token=None, lease_expires_at=None)
    if clear_unique_id:
        values["unique_id"] = None
    changed = conn.execute(
        update(tasks).where(*scope, tasks.c.status == Status.PENDING.value).values(**values)
    ).rowcount
    if not changed:
        current = get(conn, task_id, customer_id=customer_id, is_test=is_test)  # 404 if not ours
        raise NotCancelable(
            f"task {task_id} is {current['status']}; only pending tasks can be canceled"
        )
    conn.execute(
        update(assignments)
        .where(assignments.c.task_id == task_id, assignments.c.outcome.is_(None))
        .values(outcome="canceled", finished_at=now)
    )
    task = get(conn, task_id, customer_id=customer_id)
    batches.task_final(conn, task, now=now)
    return task


# -- the workforce side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Lease:
    task_id: str
    token: str
    expires_at: int


def _claimable(now: Any):
    # Literals, not bound parameters: a planner can only use the partial index ix_tasks_queue
    # when the query's WHERE visibly implies the index's (status = 'pending' AND is_test = 0 /
    # false); SQLite cannot see through "status = ?", nor PostgreSQL's generic plans, which
    # psycopg's prepared statements end up using.
    return and_(
        tasks.c.status == literal_column("'pending'"),
        tasks.c.is_test == false(),
        tasks.c.held == false(),
        or_(tasks.c.lease_expires_at.is_(None), tasks.c.lease_expires_at < now),
    )


_SQLITE_NEXT_TASK = text(
    "SELECT id FROM tasks INDEXED BY ix_tasks_queue "
    "WHERE status = 'pending' AND is_test = 0 AND held = 0 AND (lease_expires_at IS NULL OR lease_expires_at < :now) "
    "AND NOT EXISTS (SELECT 1 FROM task_skips WHERE task_skips.task_id = tasks.id "
    "AND task_skips.worker_id = :worker_id) ORDER BY priority, created_at, id LIMIT 1"
)


_CURRENT_LEASE = (
    select(tasks.c.id, tasks.c.lease_token, tasks.c.lease_expires_at)
    .where(tasks.c.lease_worker_id == bindparam("b_worker"),
           tasks.c.status == Status.PENDING.value,
           tasks.c.lease_expires_at >= bindparam("b_now"))
    .limit(1)
)
_LOCK_WORKER = select(users.c.id).where(users.c.id == bindparam("b_worker")).with_for_update()
_PG_NEXT_TASK = (
    select(tasks.c.id)
    .where(_claimable(bindparam("b_now")),
           ~exists().where(task_skips.c.task_id == tasks.c.id,
                           task_skips.c.worker_id == bindparam("b_worker")))
    .order_by(tasks.c.priority, tasks.c.created_at, tasks.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_TAKE_LEASE = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"), _claimable(bindparam("b_now")))
    .values(lease_worker_id=bindparam("b_worker"), lease_token=bindparam("b_token"),
            lease_expires_at=bindparam("b_expires"))
)
_EXPIRE_OPEN_ASSIGNMENT = (
    update(assignments)
    .where(assignments.c.task_id == bindparam("b_id"), assignments.c.outcome.is_(None))
    .values(outcome="expired", finished_at=bindparam("b_now"))
)
_INSERT_ASSIGNMENT = insert(assignments)


def current_lease(conn: Connection, worker_id: int, *, now: int | None = None) -> Lease | None:
    """The unexpired lease this worker already holds, if any (a worker holds one task at a time)."""
    now = now if now is not None else now_ms()
    row = conn.execute(_CURRENT_LEASE, {"b_worker": worker_id, "b_now": now}).first()
    return Lease(row.id, row.lease_token, row.lease_expires_at) if row else None


def held_task(conn: Connection, task_id: str, worker_id: int, *, now: int | None = None) -> dict[str, Any] | None:
    """The task with ``lease_token`` and ``lease_expires_at`` added, if this worker holds its
    current, unexpired lease; else None (the worker's task page)."""
    lease = current_lease(conn, worker_id, now=now)
    if lease is None or lease.task_id != task_id:
        return None
    return {**get(conn, task_id), "lease_token": lease.token, "lease_expires_at": lease.expires_at}


def claim(
    conn: Connection, worker_id: int, *, lease_seconds: int, now: int | None = None
) -> Lease | None:
    """Lease the next task to this worker: urgent first, then oldest; None when the queue is empty.

    The caller's transaction must be a write (``BEGIN IMMEDIATE`` on SQLite, which serialises
    claimers); on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets concurrent claimers pass each other.
    """
    now = now if now is not None else now_ms()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # Two tabs of one worker claiming at once would each see "no lease held" and take a task
        # each; locking the worker's row makes the second wait and then find the first's lease.
        conn.execute(_LOCK_WORKER, {"b_worker": worker_id})
    held = current_lease(conn, worker_id, now=now)
    if held is not None:
        return held
    # On SQLite, once ANALYZE (or PRAGMA optimize) has run, the planner prefers scanning a
    # customer index and sorting over the queue's own partial index (70 ms against 0.1 ms at
    # 20,000 pending tasks); the text statement names the index (SQLAlchemy renders no table
    # hints for SQLite).
    next_task = _PG_NEXT_TASK if postgres else _SQLITE_NEXT_TASK
    next_params = {"b_now": now, "b_worker": worker_id} if postgres else {"now": now, "worker_id": worker_id}
    for _ in range(3):
        task_id = conn.execute(next_task, next_params).scalar()
        if task_id is None:
            return None
        token = ids.new_lease_token()
        expires = now + lease_seconds * 1000
        changed = conn.execute(_TAKE_LEASE, {"b_id": task_id, "b_now": now, "b_worker": worker_id,
                                             "b_token": token, "b_expires": expires}).rowcount
        if changed:
            # A lease that ran out on someone else is closed in the history as expired.
            conn.execute(_EXPIRE_OPEN_ASSIGNMENT, {"b_id": task_id, "b_now": now})
            conn.execute(_INSERT_ASSIGNMENT, {"task_id": task_id, "worker_id": worker_id,
                                              "lease_token": token, "claimed_at": now})
            return Lease(task_id, token, expires)
    return None


def _lease_lost(conn: Connection, task_id: str, worker_id: int, token: str, now: int) -> LeaseLost:
    row = conn.execute(
        select(tasks.c.status, tasks.c.lease_token, tasks.c.lease_worker_id,
               tasks.c.lease_expires_at).where(tasks.c.id == task_id)
    ).first()
    if row is None:
        return LeaseLost("This task no longer exists.")
    if row.status == Status.CANCELED.value:
        return LeaseLost("The customer canceled this task; your answer was not needed.")
    if row.status == Status.COMPLETED.value:
        return LeaseLost("This task was already completed.")
    if row.lease_token == token and row.lease_expires_at is not None and row.lease_expires_at >= now:
        return LeaseLost("Your account is not active; ask an operator.")
    if row.lease_token is not None and row.lease_expires_at is not None and row.lease_expires_at >= now:
        if row.lease_worker_id == worker_id:
            return LeaseLost("You opened this task again elsewhere; only the newest copy can be submitted.")
        return LeaseLost("Your time on this task ran out and another worker has taken it.")
    return LeaseLost("Your time on this task ran out; the task went back to the queue.")


_FINISH_ASSIGNMENT = (
    update(assignments)
    .where(assignments.c.lease_token == bindparam("b_token"), assignments.c.outcome.is_(None))
    .values(outcome=bindparam("b_outcome"), finished_at=bindparam("b_now"))
)


def _finish_assignment(conn: Connection, token: str, outcome: str, now: int) -> None:
    conn.execute(_FINISH_ASSIGNMENT, {"b_token": token, "b_outcome": outcome, "b_now": now})


def release(conn: Connection, task_id: str, worker_id: int, token: str, *, skip: bool,
            now: int | None = None, reason: str | None = None) -> None:
    """Give the task back to the queue; with ``skip`` this worker is not offered it again, and
    ``reason`` (the worker's, see web/skip_reasons.py) is kept with the skip for operators."""
    now = now if now is not None else now_ms()
    changed = conn.execute(
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.lease_token == token,
               tasks.c.lease_worker_id == worker_id, tasks.c.status == Status.PENDING.value)
        .values(lease_worker_id=None, lease_token=None, lease_expires_at=None)
    ).rowcount
    if skip:
        # One statement, so a forged or vanished task id inserts nothing (no foreign-key error)
        # and a double click records the skip once.
        already = exists().where(task_skips.c.task_id == task_id, task_skips.c.worker_id == worker_id)
        conn.execute(
            insert(task_skips).from_select(
                ["task_id", "worker_id", "skipped_at", "reason"],
                select(tasks.c.id, literal(worker_id), literal(now), literal(reason, String))
                .where(tasks.c.id == task_id, ~already),
            )
        )
    if changed:
        _finish_assignment(conn, token, "skipped" if skip else "released", now)


def operator_release(conn: Connection, task_id: str, *, now: int | None = None) -> bool:
    """An operator frees a stuck lease; returns whether there was one."""
    now = now if now is not None else now_ms()
    changed = conn.execute(
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.status == Status.PENDING.value,
               tasks.c.lease_token.is_not(None))
        .values(lease_worker_id=None, lease_token=None, lease_expires_at=None)
    ).rowcount
    conn.execute(
        update(assignments)
        .where(assignments.c.task_id == task_id, assignments.c.outcome.is_(None))
        .values(outcome="released", finished_at=now)
    )
    return bool(changed)


def release_worker_leases(conn: Connection, worker_id: int, *, now: int | None = None) -> int:
    """Free every task this worker holds (a deactivated worker's tasks should not wait out the
    lease); returns how many."""
    now = now if now is not None else now_ms()
    held = [r.id for r in conn.execute(
        select(tasks.c.id).where(tasks.c.lease_worker_id == worker_id,
                                 tasks.c.status == Status.PENDING.value)
    )]
    for task_id in held:
        operator_release(conn, task_id, now=now)
    return len(held)


_TASK_FOR_COMPLETION = select(
    tasks.c.type, tasks.c.params, tasks.c.is_test, tasks.c.status, tasks.c.lease_token,
    tasks.c.lease_worker_id, tasks.c.lease_expires_at,
).where(tasks.c.id == bindparam("b_id"))
_COMPLETED = dict(status=Status.COMPLETED.value, response=bindparam("b_response"),
                  completed_at=bindparam("b_now"), completed_by=bindparam("b_worker"),
                  lease_worker_id=None, lease_token=None, lease_expires_at=None)
#: The simulated worker completes test-mode tasks, without a lease.
_COMPLETE_TEST_TASK = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value,
           tasks.c.is_test == True)  # noqa: E712
    .values(**_COMPLETED)
)
#: A worker completes a task only under its current, unexpired lease, and only while active.
_COMPLETE_LEASED_TASK = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value,
           tasks.c.lease_token == bindparam("b_token"),
           tasks.c.lease_worker_id == bindparam("b_worker"),
           tasks.c.lease_expires_at >= bindparam("b_now"),
           exists().where(users.c.id == bindparam("b_worker"), users.c.active == true()))
    .values(**_COMPLETED)
)


def complete(
    conn: Connection,
    task_id: str,
    answer: Mapping[str, Any],
    *,
    worker_id: int | None,
    lease_token: str | None,
    now: int | None = None,
) -> dict[str, Any]:
    """Validate the answer against the task's type, complete the task and owe its callback.

    A worker must hold the current, unexpired lease. ``worker_id=None`` is the test-mode
    simulated worker, which completes test tasks without a lease.
    """
    now = now if now is not None else now_ms()
    row = conn.execute(_TASK_FOR_COMPLETION, {"b_id": task_id}).first()
    if row is None:
        raise NotFound(f"no task with task_id {task_id!r}")
    if worker_id is not None:
        # A worker who lost the task hears that, not a complaint about an answer nobody needs.
        holds = (row.status == Status.PENDING.value and lease_token and row.lease_token == lease_token
                 and row.lease_worker_id == worker_id and row.lease_expires_at is not None
                 and row.lease_expires_at >= now)
        if not holds:
            raise _lease_lost(conn, task_id, worker_id, lease_token or "", now)
    response = REGISTRY.get(row.type).validate_response(row.params, answer)
    statement = _COMPLETE_TEST_TASK if worker_id is None else _COMPLETE_LEASED_TASK
    changed = conn.execute(statement, {"b_id": task_id, "b_response": response, "b_now": now,
                                       "b_worker": worker_id, "b_token": lease_token}).rowcount
    if not changed:
        if worker_id is None:
            raise LeaseLost(f"task {task_id} is no longer pending")
        raise _lease_lost(conn, task_id, worker_id, lease_token or "", now)
    if lease_token:
        _finish_assignment(conn, lease_token, "submitted", now)
    task = get(conn, task_id)
    outbox.enqueue(conn, task, now=now)
    batches.task_final(conn, task, now=now)
    return task
