"""Everything that changes a task goes through here. Each function takes the connection of the
caller's unit of work and never commits: the caller's ``with db.write()`` block does.

State changes are guarded UPDATEs: the WHERE clause states what must still be true, and zero rows
changed means something else got there first (a cancel, another worker, an expired lease). The
database settles every race, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
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
from taskforce.errors import Conflict, LeaseLost, NotCancelable, NotFound
from taskforce.quality import gold
from taskforce.models import FREE_SLOT, OPEN_ASSIGNMENT, QUEUE, assignments, task_skips, tasks, users
from taskforce.quality import store as skill_store
from taskforce.quality.combiners import quality_object
from taskforce.quality.overlap import Next, all_disagree, next_step
from taskforce.task_types import REGISTRY
from taskforce.task_types.answers import Answer, combine_single
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
    if params.overlap != 1 or params.max_overlap is not None or params.min_confidence is not None:
        # Only when asked for: a one-answer task's row is the one it always was (column defaults).
        row.update(answers_needed=params.overlap, max_answers=params.max_overlap,
                   min_confidence=params.min_confidence)
    conn.execute(_INSERT_TASK, row)
    if is_test:
        pg_wakeups.wake(conn, signals.TEST_TASK_CREATED)
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
    2.x's ``cancel_task(…, clear_unique_id=True)``). A task waiting in the operators' Review
    queue leaves it: nobody is to decide a canceled task."""
    now = now if now is not None else now_ms()
    scope = [tasks.c.id == task_id, tasks.c.customer_id == customer_id]
    if is_test is not None:
        scope.append(tasks.c.is_test == is_test)
    values: dict[str, Any] = dict(status=Status.CANCELED.value, canceled_at=now, leases_open=0,
                                  lease_expires_at=None, review_state=None)
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
#
# A worker's claim is an assignment: open while they hold it (token, lease expiry), then
# submitted (with their answer), skipped, released, expired (taken over after the lease ran out)
# or canceled. The task row keeps counters in step (answers_submitted, leases_open, and the
# earliest open lease's expiry) so that "does this task need another worker?" (models.FREE_SLOT)
# is answered from the row the queue's index leads to. Every write that changes a task's
# assignments holds the task row first (SQLite: BEGIN IMMEDIATE holds everything; PostgreSQL: a
# row lock), so the counters cannot drift and one task never has more open leases than answers
# still needed.


@dataclass(frozen=True)
class Lease:
    task_id: str
    token: str
    expires_at: int


_OPEN = text(OPEN_ASSIGNMENT.sqlite)  # the same text on both backends
_SUBMITTED = literal_column("'submitted'")
# "Has this worker answered this task?" as a scalar subquery (uq_assignments_answer allows one row
# at most), not NOT EXISTS: PostgreSQL may turn an EXISTS into a hashed subplan that first loads
# every answer the worker ever submitted (26 ms per claim at 3,000 answers, growing with the
# worker's history; bench/README.md, the overlap profile). A scalar subquery is never hashed: it
# looks up (task, worker) in the unique index for each candidate row, of which there are few.
_answered_by_worker = select(assignments.c.id).where(
    assignments.c.task_id == tasks.c.id, assignments.c.worker_id == bindparam("worker"),
    assignments.c.outcome == _SUBMITTED).scalar_subquery().is_not(None)
_skipped_by_worker = exists().where(task_skips.c.task_id == tasks.c.id,
                                    task_skips.c.worker_id == bindparam("worker"))

# On SQLite, once ANALYZE (or PRAGMA optimize) has run, the planner prefers scanning a customer
# index and sorting over the queue's own partial index (70 ms against 0.1 ms at 20,000 pending
# tasks); the text statement names the index (SQLAlchemy renders no table hints for SQLite).
# "answers_submitted = 0 OR …" spares a one-answer task (always 0 while pending) the look-up.
_SQLITE_NEXT_TASK = text(
    f"SELECT id, lease_expires_at FROM tasks INDEXED BY ix_tasks_queue WHERE {QUEUE.sqlite} AND {FREE_SLOT} "
    "AND NOT EXISTS (SELECT 1 FROM task_skips WHERE task_skips.task_id = tasks.id "
    "AND task_skips.worker_id = :worker) "
    "AND (answers_submitted = 0 OR NOT EXISTS (SELECT 1 FROM assignments WHERE assignments.task_id = tasks.id "
    "AND assignments.worker_id = :worker AND assignments.outcome = 'submitted')) "
    "ORDER BY priority, created_at, id LIMIT 1"
)
_PG_NEXT_TASK = (
    select(tasks.c.id, tasks.c.lease_expires_at)
    .where(QUEUE.clause("postgresql"), text(FREE_SLOT), ~_skipped_by_worker,
           or_(tasks.c.answers_submitted == 0, ~_answered_by_worker))
    .order_by(tasks.c.priority, tasks.c.created_at, tasks.c.id)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_CURRENT_LEASE = (
    select(assignments.c.task_id, assignments.c.lease_token, assignments.c.lease_expires_at)
    .where(assignments.c.worker_id == bindparam("b_worker"), _OPEN,
           assignments.c.lease_expires_at >= bindparam("b_now"))
    .order_by(assignments.c.lease_expires_at.desc())
    .limit(1)
)
_HELD_LEASE = (
    select(assignments.c.task_id, assignments.c.lease_token, assignments.c.lease_expires_at)
    .where(assignments.c.task_id == bindparam("b_id"), assignments.c.worker_id == bindparam("b_worker"),
           _OPEN, assignments.c.lease_expires_at >= bindparam("b_now"))
    .limit(1)
)
_WORKER_STATE = select(users.c.claims_made, users.c.gold_paused).where(users.c.id == bindparam("b_worker"))
_LOCK_WORKER = _WORKER_STATE.with_for_update()
_COUNT_CLAIM = (update(users).where(users.c.id == bindparam("b_worker"))
                .values(claims_made=users.c.claims_made + 1).returning(users.c.claims_made, users.c.gold_paused))


@dataclass(frozen=True)
class _WorkerState:
    claims_made: int
    gold_paused: bool
_LOCK_TASK = select(tasks.c.id).where(tasks.c.id == bindparam("b_id")).with_for_update()


def _open_of_task(*extra):
    return and_(assignments.c.task_id == tasks.c.id, _OPEN, *extra)


def _take_slot(dialect: str):
    now, expires, earliest = bindparam("now"), bindparam("b_expires"), tasks.c.lease_expires_at
    run_out = select(func.count()).where(
        _open_of_task(assignments.c.lease_expires_at < now)).scalar_subquery()
    earliest_left = select(func.min(assignments.c.lease_expires_at)).where(
        _open_of_task(assignments.c.lease_expires_at >= now,
                      assignments.c.lease_expires_at < expires)).scalar_subquery()
    # The subqueries run only when an open lease has run out (a CASE arm is evaluated only
    # when chosen); otherwise the row alone says it: a fresh task costs no look-up.
    return (
        update(tasks)
        .where(tasks.c.id == bindparam("b_id"), QUEUE.clause(dialect), text(FREE_SLOT))
        .values(
            leases_open=case((earliest < now, tasks.c.leases_open + 1 - run_out),
                             else_=tasks.c.leases_open + 1),
            lease_expires_at=case((earliest.is_(None), expires),
                                  (earliest >= now, case((earliest < expires, earliest), else_=expires)),
                                  else_=func.coalesce(earliest_left, expires)),
        )
    )


#: Take one slot of a task: guarded by the queue's own predicates (still pending, live, not held,
#: a slot free or run out), and computed before the run-out assignments are closed, so that a
#: slot taken over replaces the one that ran out.
_TAKE_SLOT = {dialect: _take_slot(dialect) for dialect in ("sqlite", "postgresql")}
_CLOSE_RUN_OUT = (
    update(assignments)
    .where(assignments.c.task_id == bindparam("b_id"), _OPEN,
           assignments.c.lease_expires_at < bindparam("b_now"))
    .values(outcome="expired", finished_at=bindparam("b_now"))
)
_INSERT_ASSIGNMENT = insert(assignments)


def current_lease(conn: Connection, worker_id: int, *, now: int | None = None) -> Lease | None:
    """The unexpired lease this worker already holds, if any (a worker holds one task at a time)."""
    now = now if now is not None else now_ms()
    row = conn.execute(_CURRENT_LEASE, {"b_worker": worker_id, "b_now": now}).first()
    return Lease(row.task_id, row.lease_token, row.lease_expires_at) if row else None


def held_lease(conn: Connection, task_id: str, worker_id: int, *, now: int | None = None) -> Lease | None:
    """This worker's unexpired lease on this task, if they hold one."""
    now = now if now is not None else now_ms()
    row = conn.execute(_HELD_LEASE, {"b_id": task_id, "b_worker": worker_id, "b_now": now}).first()
    return Lease(row.task_id, row.lease_token, row.lease_expires_at) if row else None


def held_task(conn: Connection, task_id: str, worker_id: int, *, now: int | None = None) -> dict[str, Any] | None:
    """The task with ``lease_token`` and ``lease_expires_at`` added, if this worker holds its
    current, unexpired lease; else None (the worker's task page)."""
    lease = held_lease(conn, task_id, worker_id, now=now)
    if lease is None:
        return None
    task = get(conn, task_id)
    if task["status"] != Status.PENDING.value:
        return None
    return {**task, "lease_token": lease.token, "lease_expires_at": lease.expires_at}


def claim(
    conn: Connection, worker_id: int, *, lease_seconds: int, now: int | None = None,
    gold_rate: float = 0.0,
) -> Lease | None:
    """Lease the next task to this worker: urgent first, then oldest, never one they skipped or
    already answered; None when the queue is empty.

    On a gold task's turn (one claim in ``round(1/gold_rate)``, quality/gold.py) the worker gets a
    gold task they have not seen, if one is left; a worker paused by the gold rules gets only
    gold tasks.

    The caller's transaction must be a write (``BEGIN IMMEDIATE`` on SQLite, which serialises
    claimers); on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets concurrent claimers pass each other,
    and the task row stays locked while its slot is taken.
    """
    now = now if now is not None else now_ms()
    postgres = conn.dialect.name == "postgresql"
    # On PostgreSQL, two tabs of one worker claiming at once would each see "no lease held" and
    # take a task each; locking the worker's row makes the second wait and then find the first's lease.
    me = conn.execute(_LOCK_WORKER, {"b_worker": worker_id}).first() if postgres else None
    held = current_lease(conn, worker_id, now=now)
    if held is not None:
        return held
    # One statement on SQLite: the claim is counted and the worker's gold state read at once
    # (the count before this claim is the one returned less one).
    counted = conn.execute(_COUNT_CLAIM, {"b_worker": worker_id}).first()
    if me is None and counted is not None:
        me = _WorkerState(counted.claims_made - 1, counted.gold_paused)
    if me is not None:
        if me.gold_paused or gold.gold_turn(me.claims_made, gold_rate):
            expires = now + lease_seconds * 1000
            handed = gold.claim_gold(conn, worker_id, expires=expires, now=now)
            if handed is not None:
                return Lease(handed[0], handed[1], expires)
            if me.gold_paused:
                return None
    next_task = _PG_NEXT_TASK if postgres else _SQLITE_NEXT_TASK
    take_slot = _TAKE_SLOT[conn.dialect.name]
    for _ in range(3):
        row = conn.execute(next_task, {"now": now, "worker": worker_id}).first()
        if row is None:
            return None
        task_id = row[0]
        expires = now + lease_seconds * 1000
        if not conn.execute(take_slot, {"b_id": task_id, "now": now, "b_expires": expires}).rowcount:
            continue
        if row[1] is not None and row[1] < now:
            # A lease that ran out on someone else is closed in the history as expired.
            conn.execute(_CLOSE_RUN_OUT, {"b_id": task_id, "b_now": now})
        token = ids.new_lease_token()
        conn.execute(_INSERT_ASSIGNMENT, {"task_id": task_id, "worker_id": worker_id, "lease_token": token,
                                          "claimed_at": now, "lease_expires_at": expires})
        return Lease(task_id, token, expires)
    return None


_ASSIGNMENT_BY_TOKEN = select(assignments.c.worker_id, assignments.c.outcome,
                              assignments.c.lease_expires_at).where(
    assignments.c.lease_token == bindparam("b_token"), assignments.c.task_id == bindparam("b_id"))
_LIVE_LEASES = select(assignments.c.worker_id).where(
    assignments.c.task_id == bindparam("b_id"), _OPEN, assignments.c.lease_expires_at >= bindparam("b_now"))


def _lease_lost(conn: Connection, task_id: str, worker_id: int, token: str, now: int) -> LeaseLost:
    status = conn.execute(select(tasks.c.status).where(tasks.c.id == task_id)).scalar()
    if status is None:
        return LeaseLost("This task no longer exists.")
    if status == Status.CANCELED.value:
        return LeaseLost("The customer canceled this task; your answer was not needed.")
    if status == Status.COMPLETED.value:
        return LeaseLost("This task was already completed.")
    mine = conn.execute(_ASSIGNMENT_BY_TOKEN, {"b_token": token, "b_id": task_id}).first()
    if mine is not None and mine.worker_id == worker_id:
        if mine.outcome is None and mine.lease_expires_at is not None and mine.lease_expires_at >= now:
            return LeaseLost("Your account is not active; ask an operator.")
        if mine.outcome == "submitted":
            return LeaseLost("You have already answered this task.")
    holders = {r.worker_id for r in conn.execute(_LIVE_LEASES, {"b_id": task_id, "b_now": now})}
    if worker_id in holders:
        return LeaseLost("You opened this task again elsewhere; only the newest copy can be submitted.")
    if holders:
        return LeaseLost("Your time on this task ran out and another worker has taken it.")
    return LeaseLost("Your time on this task ran out; the task went back to the queue.")


#: After assignments of a task were closed: fewer open, and the earliest expiry among the rest.
_RESETTLE = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"))
    .values(leases_open=tasks.c.leases_open - bindparam("b_closed"),
            lease_expires_at=select(func.min(assignments.c.lease_expires_at))
            .where(_open_of_task()).scalar_subquery())
)
_CLOSE_WORKERS_LEASE = (
    update(assignments)
    .where(assignments.c.task_id == bindparam("b_id"), assignments.c.worker_id == bindparam("b_worker"),
           assignments.c.lease_token == bindparam("b_token"), _OPEN)
    .values(outcome=bindparam("b_outcome"), finished_at=bindparam("b_now"))
)


def _lock_task(conn: Connection, task_id: str) -> None:
    """Hold the task row before changing its assignments (SQLite's write lock already does)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_LOCK_TASK, {"b_id": task_id})


def _close(conn: Connection, task_id: str, outcome: str, now: int, *, worker_id: int | None = None,
           token: str | None = None) -> int:
    """Close open assignments of a task (one worker's, or all) and resettle its counters."""
    _lock_task(conn, task_id)
    if worker_id is not None:
        closed = conn.execute(_CLOSE_WORKERS_LEASE, {"b_id": task_id, "b_worker": worker_id, "b_token": token,
                                                     "b_outcome": outcome, "b_now": now}).rowcount
    else:
        closed = conn.execute(
            update(assignments).where(assignments.c.task_id == task_id, _OPEN)
            .values(outcome=outcome, finished_at=now)).rowcount
    if closed:
        conn.execute(_RESETTLE, {"b_id": task_id, "b_closed": closed})
    return closed


def release(conn: Connection, task_id: str, worker_id: int, token: str, *, skip: bool,
            now: int | None = None, reason: str | None = None) -> None:
    """Give the task back to the queue; with ``skip`` this worker is not offered it again, and
    ``reason`` (the worker's, see tasks/skips.py) is kept with the skip for operators."""
    now = now if now is not None else now_ms()
    _close(conn, task_id, "skipped" if skip else "released", now, worker_id=worker_id, token=token)
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


def operator_release(conn: Connection, task_id: str, *, now: int | None = None) -> bool:
    """An operator frees a stuck task (every lease on it); returns whether there was one."""
    now = now if now is not None else now_ms()
    return bool(_close(conn, task_id, "released", now))


def release_worker_leases(conn: Connection, worker_id: int, *, now: int | None = None) -> int:
    """Free every task this worker holds (a deactivated worker's tasks should not wait out the
    lease); returns how many."""
    now = now if now is not None else now_ms()
    held = conn.execute(select(assignments.c.task_id, assignments.c.lease_token)
                        .where(assignments.c.worker_id == worker_id, _OPEN)).all()
    return sum(_close(conn, row.task_id, "released", now, worker_id=worker_id, token=row.lease_token)
               for row in held)


def _task_for_completion(postgres: bool):
    query = (
        select(tasks.c.type, tasks.c.params, tasks.c.is_test, tasks.c.status, tasks.c.answers_needed,
               tasks.c.answers_submitted, tasks.c.customer_id, tasks.c.max_answers, tasks.c.min_confidence,
               tasks.c.review_state, tasks.c.gold, tasks.c.expected_response, assignments.c.id.label("a_id"),
               assignments.c.worker_id.label("a_worker"), assignments.c.outcome.label("a_outcome"),
               assignments.c.claimed_at.label("a_claimed"),
               assignments.c.lease_expires_at.label("a_expires"))
        .select_from(tasks.outerjoin(assignments, and_(assignments.c.lease_token == bindparam("b_token"),
                                                       assignments.c.task_id == tasks.c.id)))
        .where(tasks.c.id == bindparam("b_id"))
    )
    # Held until the transaction ends: the answer count read here is the one the UPDATEs change.
    return query.with_for_update(of=tasks) if postgres else query


_TASK_FOR_COMPLETION = {postgres: _task_for_completion(postgres) for postgres in (False, True)}
#: A worker's answer counts only under their open, unexpired lease, and only while active.
_SUBMIT_ANSWER = (
    update(assignments)
    .where(assignments.c.id == bindparam("b_aid"), _OPEN,
           assignments.c.lease_expires_at >= bindparam("b_now"),
           exists().where(users.c.id == bindparam("b_worker"), users.c.active == true()))
    .values(outcome="submitted", answer=bindparam("b_answer"), finished_at=bindparam("b_now"))
)
_COUNT_ANSWER = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value)
    .values(answers_submitted=tasks.c.answers_submitted + 1,
            leases_open=tasks.c.leases_open - bindparam("b_closed"),
            lease_expires_at=select(func.min(assignments.c.lease_expires_at))
            .where(_open_of_task()).scalar_subquery())
)
_COUNT_GOLD_ANSWER = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"))
    .values(answers_submitted=tasks.c.answers_submitted + 1, leases_open=tasks.c.leases_open - bindparam("b_closed"))
)
_COMPLETE_TASK = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value)
    .values(status=Status.COMPLETED.value, response=bindparam("b_response"), completed_at=bindparam("b_now"),
            answers_submitted=tasks.c.answers_submitted + 1, leases_open=0, lease_expires_at=None,
            quality=bindparam("b_quality"))
)
#: Dynamic overlap: the combined answer is not yet confident enough, so one more worker is needed.
_ONE_MORE = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value)
    .values(answers_submitted=tasks.c.answers_submitted + 1, answers_needed=tasks.c.answers_needed + 1,
            leases_open=tasks.c.leases_open - bindparam("b_closed"),
            lease_expires_at=select(func.min(assignments.c.lease_expires_at))
            .where(_open_of_task()).scalar_subquery(),
            quality=bindparam("b_quality"))
)
#: Out of the queue (every slot is filled and no lease is open), waiting for an operator.
_TO_REVIEW = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value)
    .values(answers_submitted=tasks.c.answers_submitted + 1, answers_needed=tasks.c.answers_submitted + 1,
            leases_open=0, lease_expires_at=None, review_state="needed", quality=bindparam("b_quality"))
)
_ANSWERS = (
    select(assignments.c.worker_id, assignments.c.answer, assignments.c.claimed_at, assignments.c.finished_at)
    .where(assignments.c.task_id == bindparam("b_id"), assignments.c.outcome == _SUBMITTED)
    .order_by(assignments.c.finished_at, assignments.c.id)
)


def _combine_hook(task_type: TaskType, given: list[Answer]):
    # One answer is the response exactly as given (a one-answer task behaves as it always did);
    # several go through the type's combine hook.
    return combine_single if len(given) == 1 else task_type.combine


def _all_disagree(combined, given: list[Answer]) -> bool:
    """No two answers agree: the agreement with the combined answer says so (every field 1/n),
    unless two answers are the same — which happens when Dawid-Skene, knowing the workers, sides
    with a lone good worker against two who agree (that is a decision, not a deadlock)."""
    if not all_disagree(combined, len(given)):
        return False
    seen = set()
    for answer in given:
        key = json.dumps(answer.response, sort_keys=True, default=str)
        if key in seen:
            return False
        seen.add(key)
    return True


def _quality(combined, given: list[Answer]) -> dict[str, Any]:
    quality = quality_object(combined, given)
    # Kept with the task for GET /v1/task/{id}/answers; not part of the task object's ``quality``.
    quality["weights"] = [round(w, 4) for w in combined.weights] or [1.0] * len(given)
    return quality


def answers(conn: Connection, task_id: str) -> list[Answer]:
    """The answers submitted for a task, in the order they came in."""
    return [Answer(r.worker_id, r.answer,
                   None if r.worker_id is None else r.finished_at - r.claimed_at)
            for r in conn.execute(_ANSWERS, {"b_id": task_id})]


def complete(
    conn: Connection,
    task_id: str,
    answer: Mapping[str, Any],
    *,
    worker_id: int | None,
    lease_token: str | None,
    now: int | None = None,
    simulated_worker: int | None = None,
) -> dict[str, Any]:
    """Validate a worker's answer and store it on their assignment; once the task has the
    answers it needs, combine them (the type's ``combine`` hook), complete the task with the
    result and owe its callback, all in the caller's transaction. Returns the task.

    A worker must hold an open, unexpired lease on the task. ``worker_id=None`` is the test-mode
    simulated worker, which answers test tasks without a lease (its answer is recorded as an
    assignment with no worker; ``simulated_worker`` says which of the simulated crowd gave it).
    """
    now = now if now is not None else now_ms()
    postgres = conn.dialect.name == "postgresql"
    row = conn.execute(_TASK_FOR_COMPLETION[postgres], {"b_id": task_id, "b_token": lease_token}).first()
    if row is None:
        raise NotFound(f"no task with task_id {task_id!r}")
    if worker_id is not None:
        # A worker who lost the task hears that, not a complaint about an answer nobody needs.
        holds = (row.status == Status.PENDING.value and lease_token and row.a_worker == worker_id
                 and row.a_outcome is None and row.a_expires is not None and row.a_expires >= now)
        if not holds:
            raise _lease_lost(conn, task_id, worker_id, lease_token or "", now)
    elif row.status != Status.PENDING.value or not row.is_test or row.review_state is not None:
        raise LeaseLost(f"task {task_id} is no longer pending")
    task_type = REGISTRY.get(row.type)
    response = task_type.validate_response(row.params, answer)
    if worker_id is None:
        conn.execute(_INSERT_ASSIGNMENT, {"task_id": task_id, "worker_id": None,
                                          "lease_token": ids.new_lease_token(), "claimed_at": now,
                                          "finished_at": now, "outcome": "submitted", "answer": response,
                                          "simulated_worker": simulated_worker})
    elif not conn.execute(_SUBMIT_ANSWER, {"b_aid": row.a_id, "b_now": now, "b_worker": worker_id,
                                           "b_answer": response}).rowcount:
        raise _lease_lost(conn, task_id, worker_id, lease_token or "", now)
    closed = 0 if worker_id is None else 1
    if row.gold:
        # Gold scores the worker and stays as it is for the next one: no completion, no callback.
        conn.execute(_COUNT_GOLD_ANSWER, {"b_id": task_id, "b_closed": closed})
        gold.record_answer(conn, row.a_id, worker_id,
                           gold.matches(task_type, row.params, row.expected_response, response))
        return get(conn, task_id)
    if row.answers_submitted + 1 < row.answers_needed:
        conn.execute(_COUNT_ANSWER, {"b_id": task_id, "b_closed": closed})
        return get(conn, task_id)
    if row.answers_submitted == 0:  # one answer needed: it is the one in hand
        given = [Answer(worker_id, response, None if worker_id is None else now - row.a_claimed)]
    else:
        given = answers(conn, task_id)
    quality: dict[str, Any] | None = None
    if len(given) == 1 and row.max_answers is None and row.min_confidence is None:
        # One answer is the response exactly as given (a one-answer task behaves as it always did).
        combined = combine_single(row.params, given)
    else:
        combine = task_type.combine if len(given) == 1 else _combine_hook(task_type, given)
        # A worker paused by the gold rules still counts, but for less (quality/gold.py).
        skills = gold.with_paused(conn, skill_store.load(conn, row.customer_id, row.is_test),
                                  [a.worker_id for a in given])
        combined = combine(row.params, given, skills)
        quality = _quality(combined, given)
        step = next_step(len(given), combined, overlap=len(given),
                         max_overlap=max(row.max_answers or 0, len(given)),
                         min_confidence=row.min_confidence, disagree=_all_disagree(combined, given))
        if step is not Next.FINAL:
            if step is Next.MORE:
                conn.execute(_ONE_MORE, {"b_id": task_id, "b_closed": closed, "b_quality": quality})
            else:
                _close_open(conn, task_id, now)
                conn.execute(_TO_REVIEW, {"b_id": task_id, "b_quality": quality})
            return get(conn, task_id)
    if not conn.execute(_COMPLETE_TASK, {"b_id": task_id, "b_response": combined.response,
                                         "b_now": now, "b_quality": quality}).rowcount:
        raise LeaseLost(f"task {task_id} is no longer pending")
    if row.answers_needed > 1:
        # Only possible if fewer answers became needed meanwhile: nobody else's is wanted now.
        _close_open(conn, task_id, now)
    return _final(conn, task_id, now)


_CLOSE_OPEN = (update(assignments).where(assignments.c.task_id == bindparam("b_id"), _OPEN)
               .values(outcome="released", finished_at=bindparam("b_now")))


def _close_open(conn: Connection, task_id: str, now: int) -> None:
    conn.execute(_CLOSE_OPEN, {"b_id": task_id, "b_now": now})


def _final(conn: Connection, task_id: str, now: int) -> dict[str, Any]:
    task = get(conn, task_id)
    outbox.enqueue(conn, task, now=now)
    batches.task_final(conn, task, now=now)
    return task


_FINISH_REVIEW = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value,
           tasks.c.review_state == "needed")
    .values(status=Status.COMPLETED.value, response=bindparam("b_response"), completed_at=bindparam("b_now"),
            review_state="done", reviewed_by=bindparam("b_reviewer"), quality=bindparam("b_quality"),
            leases_open=0, lease_expires_at=None)
)


def finish_review(conn: Connection, task_id: str, response: Mapping[str, Any], reviewer_id: int | None, *,
                  now: int | None = None) -> dict[str, Any]:
    """An operator decides a task waiting in the Review queue: ``response`` (checked as a worker's
    answer would be) becomes its response, with method ``review``; the task completes and its
    callback is owed, once. Raises ``Conflict`` if the task is not waiting for review."""
    now = now if now is not None else now_ms()
    _lock_task(conn, task_id)
    task = get(conn, task_id)
    if task["status"] != Status.PENDING.value or conn.execute(
            select(tasks.c.review_state).where(tasks.c.id == task_id)).scalar() != "needed":
        raise Conflict(f"task {task_id} is {task['status']} and not waiting for review")
    checked = REGISTRY.get(task["type"]).validate_response(task["params"], response)
    before = task.get("quality") or {}
    quality = {"answers": before.get("answers", 0), "confidence": 1.0, "method": "review",
               "agreement": {}, "weights": before.get("weights", [])}
    if not conn.execute(_FINISH_REVIEW, {"b_id": task_id, "b_response": checked, "b_now": now,
                                         "b_reviewer": reviewer_id, "b_quality": quality}).rowcount:
        raise Conflict(f"task {task_id} is no longer waiting for review")
    return _final(conn, task_id, now)
