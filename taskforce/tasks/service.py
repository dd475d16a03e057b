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

from sqlalchemy import and_, exists, false, insert, literal, literal_column, or_, select, text, true, update
from sqlalchemy.engine import Connection

from taskforce import ids, pg_wakeups, signals
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


def get(
    conn: Connection, task_id: str, *, customer_id: int | None = None, is_test: bool | None = None
) -> dict[str, Any]:
    """The task, seen from a customer (scoped) or from the workforce (unscoped)."""
    query = select(*_task_cols, tasks.c.customer_id, tasks.c.is_test).where(tasks.c.id == task_id)
    if customer_id is not None:
        query = query.where(tasks.c.customer_id == customer_id)
    if is_test is not None:
        query = query.where(tasks.c.is_test == is_test)
    row = conn.execute(query).mappings().first()
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
    return get(conn, task_id, customer_id=customer_id)


# -- the workforce side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Lease:
    task_id: str
    token: str
    expires_at: int


def _claimable(now: int):
    # Literals, not bound parameters: a planner can only use the partial index ix_tasks_queue
    # when the query's WHERE visibly implies the index's (status = 'pending' AND is_test = 0 /
    # false); SQLite cannot see through "status = ?", nor PostgreSQL's generic plans, which
    # psycopg's prepared statements end up using.
    return and_(
        tasks.c.status == literal_column("'pending'"),
        tasks.c.is_test == false(),
        or_(tasks.c.lease_expires_at.is_(None), tasks.c.lease_expires_at < now),
    )


_SQLITE_NEXT_TASK = text(
    "SELECT id FROM tasks INDEXED BY ix_tasks_queue "
    "WHERE status = 'pending' AND is_test = 0 AND (lease_expires_at IS NULL OR lease_expires_at < :now) "
    "AND NOT EXISTS (SELECT 1 FROM task_skips WHERE task_skips.task_id = tasks.id "
    "AND task_skips.worker_id = :worker_id) ORDER BY priority, created_at, id LIMIT 1"
)


def current_lease(conn: Connection, worker_id: int, *, now: int | None = None) -> Lease | None:
    """The unexpired lease this worker already holds, if any (a worker holds one task at a time)."""
    now = now if now is not None else now_ms()
    row = conn.execute(
        select(tasks.c.id, tasks.c.lease_token, tasks.c.lease_expires_at).where(
            tasks.c.lease_worker_id == worker_id,
            tasks.c.status == Status.PENDING.value,
            tasks.c.lease_expires_at >= now,
        ).limit(1)
    ).first()
    return Lease(row.id, row.lease_token, row.lease_expires_at) if row else None


def claim(
    conn: Connection, worker_id: int, *, lease_seconds: int, now: int | None = None
) -> Lease | None:
    """Lease the next task to this worker: urgent first, then oldest; None when the queue is empty.

    The caller's transaction must be a write (``BEGIN IMMEDIATE`` on SQLite, which serialises
    claimers); on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets concurrent claimers pass each other.
    """
    now = now if now is not None else now_ms()
    if conn.dialect.name == "postgresql":
        # Two tabs of one worker claiming at once would each see "no lease held" and take a task
        # each; locking the worker's row makes the second wait and then find the first's lease.
        conn.execute(select(users.c.id).where(users.c.id == worker_id).with_for_update())
    held = current_lease(conn, worker_id, now=now)
    if held is not None:
        return held
    skipped = exists().where(task_skips.c.task_id == tasks.c.id, task_skips.c.worker_id == worker_id)
    query = (
        select(tasks.c.id)
        .where(_claimable(now), ~skipped)
        .order_by(tasks.c.priority, tasks.c.created_at, tasks.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    else:
        # Once ANALYZE (or PRAGMA optimize) has run, SQLite's planner prefers scanning a customer
        # index and sorting over the queue's own partial index (70 ms against 0.1 ms at 20,000
        # pending tasks); name the index. SQLAlchemy renders no table hints for SQLite.
        query = _SQLITE_NEXT_TASK.bindparams(now=now, worker_id=worker_id)
    for _ in range(3):
        task_id = conn.execute(query).scalar()
        if task_id is None:
            return None
        token = ids.new_lease_token()
        expires = now + lease_seconds * 1000
        changed = conn.execute(
            update(tasks)
            .where(tasks.c.id == task_id, _claimable(now))
            .values(lease_worker_id=worker_id, lease_token=token, lease_expires_at=expires)
        ).rowcount
        if changed:
            # A lease that ran out on someone else is closed in the history as expired.
            conn.execute(
                update(assignments)
                .where(assignments.c.task_id == task_id, assignments.c.outcome.is_(None))
                .values(outcome="expired", finished_at=now)
            )
            conn.execute(
                insert(assignments).values(
                    task_id=task_id, worker_id=worker_id, lease_token=token, claimed_at=now
                )
            )
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


def _finish_assignment(conn: Connection, token: str, outcome: str, now: int) -> None:
    conn.execute(
        update(assignments)
        .where(assignments.c.lease_token == token, assignments.c.outcome.is_(None))
        .values(outcome=outcome, finished_at=now)
    )


def release(conn: Connection, task_id: str, worker_id: int, token: str, *, skip: bool,
            now: int | None = None) -> None:
    """Give the task back to the queue; with ``skip`` this worker is not offered it again."""
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
                ["task_id", "worker_id", "skipped_at"],
                select(tasks.c.id, literal(worker_id), literal(now))
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
    row = conn.execute(
        select(tasks.c.type, tasks.c.params, tasks.c.is_test, tasks.c.status, tasks.c.lease_token,
               tasks.c.lease_worker_id, tasks.c.lease_expires_at).where(tasks.c.id == task_id)
    ).first()
    if row is None:
        raise NotFound(f"no task with task_id {task_id!r}")
    guard = [tasks.c.id == task_id, tasks.c.status == Status.PENDING.value]
    if worker_id is None:
        guard.append(tasks.c.is_test == True)  # noqa: E712
    else:
        worker_active = exists().where(users.c.id == worker_id, users.c.active == true())
        guard += [tasks.c.lease_token == lease_token, tasks.c.lease_worker_id == worker_id,
                  tasks.c.lease_expires_at >= now, worker_active]
        # A worker who lost the task hears that, not a complaint about an answer nobody needs.
        holds = (row.status == Status.PENDING.value and lease_token and row.lease_token == lease_token
                 and row.lease_worker_id == worker_id and row.lease_expires_at is not None
                 and row.lease_expires_at >= now)
        if not holds:
            raise _lease_lost(conn, task_id, worker_id, lease_token or "", now)
    response = REGISTRY.get(row.type).validate_response(row.params, answer)
    changed = conn.execute(
        update(tasks)
        .where(*guard)
        .values(status=Status.COMPLETED.value, response=response, completed_at=now,
                completed_by=worker_id, lease_worker_id=None, lease_token=None,
                lease_expires_at=None)
    ).rowcount
    if not changed:
        if worker_id is None:
            raise LeaseLost(f"task {task_id} is no longer pending")
        raise _lease_lost(conn, task_id, worker_id, lease_token or "", now)
    if lease_token:
        _finish_assignment(conn, lease_token, "submitted", now)
    task = get(conn, task_id)
    outbox.enqueue(conn, task, now=now)
    return task
