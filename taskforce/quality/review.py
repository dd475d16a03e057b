"""The operator's Review queue: tasks whose answers could not be combined with enough confidence
wait here (``tasks.review_state = 'needed'``: pending, every slot filled, so no worker is handed
them) until an operator accepts one answer, writes the response, or asks for one more answer.

``finish_review`` is ``service.finish_review`` (which records the method ``review`` in the task's
quality) with the operator's errors named for the page.

Completed tasks whose answer the customer rejected (``POST /v1/task/{id}/audit`` with
``accepted: false``, tasks/extras.audit) wait here too (``review_state = 'audit'``), with the
customer's comments, until an operator corrects the response (``fix_rejected``: the customer's
audit becomes ``fixed`` and the corrected task goes out in a new callback, once) or keeps it
(``keep_rejected``: the answer stands, the audit stays ``rejected``). A canceled task is never
waiting (service.cancel ends its review)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.engine import Connection

from taskforce.callbacks import outbox
from taskforce.clock import now_ms
from taskforce.errors import Conflict, InvalidParameter, NotFound
from taskforce.models import assignments, customers, tasks, users
from taskforce.task_types import REGISTRY
from taskforce.task_types.answers import Answer
from taskforce.tasks import service
from taskforce.tasks.status import Status

#: Pending, its answers could not be combined: an operator decides the response.
NEEDED = "needed"
#: Decided by an operator (``tasks.reviewed_by``).
DONE = "done"
#: Completed, its answer rejected by the customer's audit: an operator corrects it or keeps it.
AUDIT = "audit"

_WAITING = (tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value,
            tasks.c.review_state == NEEDED)
#: Back to the workers: one more answer needed, so the task has a free slot again.
_SEND_BACK = update(tasks).where(*_WAITING).values(answers_needed=tasks.c.answers_needed + 1,
                                                   review_state=None)


def _task_in_review(conn: Connection, task_id: str, status: Status, state: str) -> dict[str, Any]:
    """The task, locked, if it has this status and review state (else a 404 or a 409)."""
    service._lock_task(conn, task_id)
    try:
        task = service.get(conn, task_id)
    except NotFound:
        raise NotFound(f"task_id: no task {task_id!r}") from None
    current = conn.execute(select(tasks.c.review_state).where(tasks.c.id == task_id)).scalar()
    if task["status"] != status.value or current != state:
        raise Conflict(f"task {task_id} is {task['status']} and not waiting for review")
    return task


def _waiting_task(conn: Connection, task_id: str) -> dict[str, Any]:
    return _task_in_review(conn, task_id, Status.PENDING, NEEDED)


def finish_review(conn: Connection, task_id: str, response: Mapping[str, Any], reviewer_id: int | None, *,
                  now: int | None = None) -> dict[str, Any]:
    """The operator's response (checked as a worker's answer would be) becomes the task's final
    response with method ``review``; the task completes and its callback is owed, once
    (``service.finish_review``). Errors name what the operator sent: ``task_id``, ``response``."""
    _waiting_task(conn, task_id)
    try:
        return service.finish_review(conn, task_id, dict(response), reviewer_id, now=now)
    except InvalidParameter as exc:
        raise InvalidParameter("response", exc.message) from None


def accept_answer(conn: Connection, task_id: str, assignment_id: int, reviewer_id: int | None, *,
                  now: int | None = None) -> dict[str, Any]:
    """One worker's submitted answer becomes the final response."""
    answer = conn.execute(select(assignments.c.answer).where(
        assignments.c.id == assignment_id, assignments.c.task_id == task_id,
        assignments.c.outcome == "submitted")).scalar()
    if answer is None:
        raise InvalidParameter("answer", "is not an answer submitted for this task")
    return finish_review(conn, task_id, answer, reviewer_id, now=now)


def send_back(conn: Connection, task_id: str) -> None:
    """Ask the workers for one more answer; the task leaves the Review queue."""
    _waiting_task(conn, task_id)
    if not conn.execute(_SEND_BACK, {"b_id": task_id}).rowcount:
        raise Conflict(f"task {task_id} is no longer waiting for review")


def queue(conn: Connection, *, limit: int = 50) -> list[dict[str, Any]]:
    """Tasks waiting for review, oldest first, each with its answers (worker, answer) and the
    type's combined proposal."""
    rows = conn.execute(
        select(tasks.c.id, tasks.c.type, tasks.c.instruction, tasks.c.params, tasks.c.created_at,
               tasks.c.urgency, tasks.c.is_test, customers.c.name.label("customer"))
        .select_from(tasks.join(customers, customers.c.id == tasks.c.customer_id))
        .where(tasks.c.review_state == NEEDED, tasks.c.status == Status.PENDING.value)
        .order_by(tasks.c.created_at, tasks.c.id).limit(limit)
    ).mappings().all()
    waiting = []
    for row in rows:
        item = dict(row)
        given = conn.execute(
            select(assignments.c.id, assignments.c.worker_id, assignments.c.answer, assignments.c.claimed_at,
                   assignments.c.finished_at, users.c.email)
            .select_from(assignments.outerjoin(users, users.c.id == assignments.c.worker_id))
            .where(assignments.c.task_id == row["id"], assignments.c.outcome == "submitted")
            .order_by(assignments.c.finished_at, assignments.c.id)
        ).mappings().all()
        item["answers"] = [dict(a) for a in given]
        item["proposal"] = None
        if given:
            task_type = REGISTRY.get(row["type"])
            answers = [Answer(a["worker_id"], a["answer"], (a["finished_at"] or 0) - a["claimed_at"])
                       for a in given]
            try:
                item["proposal"] = service._combine_hook(task_type, answers)(row["params"], answers)
            except Exception:  # a type's combine failing must not hide the task from review
                item["proposal"] = None
        waiting.append(item)
    return waiting


# -- answers the customer rejected ----------------------------------------------------------------

_REJECTED = (tasks.c.id == bindparam("b_id"), tasks.c.status == Status.COMPLETED.value,
             tasks.c.review_state == AUDIT)
_FIX = (update(tasks).where(*_REJECTED)
        .values(response=bindparam("b_response"), customer_review_status="fixed", review_state=DONE,
                reviewed_by=bindparam("b_reviewer"), quality=bindparam("b_quality")))
_KEEP = update(tasks).where(*_REJECTED).values(review_state=DONE, reviewed_by=bindparam("b_reviewer"))


def after_audit(accepted: bool):
    """The ``review_state`` a customer's audit leaves (an SQL expression for the audit's UPDATE):
    a rejection sends the task to Review; an acceptance while it waits there takes it out again
    (back to ``done`` if an operator had decided it before, else none)."""
    if not accepted:
        return AUDIT
    return case((tasks.c.review_state == AUDIT, case((tasks.c.reviewed_by.is_not(None), DONE), else_=None)),
                else_=tasks.c.review_state)


def _rejected_task(conn: Connection, task_id: str) -> dict[str, Any]:
    return _task_in_review(conn, task_id, Status.COMPLETED, AUDIT)


def fix_rejected(conn: Connection, task_id: str, response: Mapping[str, Any], reviewer_id: int | None, *,
                 now: int | None = None) -> dict[str, Any]:
    """The operator's response (checked as a worker's answer would be) replaces the one the
    customer rejected, with method ``review``; the audit becomes ``fixed`` and the corrected task
    is owed in a new callback, once. Errors name ``task_id`` or ``response``."""
    now = now if now is not None else now_ms()
    task = _rejected_task(conn, task_id)
    try:
        checked = REGISTRY.get(task["type"]).validate_response(task["params"], dict(response))
    except InvalidParameter as exc:
        raise InvalidParameter("response", exc.message) from None
    before = task.get("quality") or {}
    answered = before.get("answers") or conn.execute(
        select(func.count()).select_from(assignments)
        .where(assignments.c.task_id == task_id, assignments.c.outcome == "submitted")).scalar_one()
    quality = {"answers": answered, "confidence": 1.0, "method": "review", "agreement": {},
               "weights": before.get("weights", [])}
    if not conn.execute(_FIX, {"b_id": task_id, "b_response": checked, "b_reviewer": reviewer_id,
                               "b_quality": quality}).rowcount:
        raise Conflict(f"task {task_id} is no longer waiting for review")
    fixed = service.get(conn, task_id)
    outbox.enqueue(conn, fixed, now=now)
    return fixed


def keep_rejected(conn: Connection, task_id: str, reviewer_id: int | None) -> None:
    """The operator keeps the rejected response: the task leaves Review, no callback is owed and
    the customer's audit stays ``rejected``."""
    _rejected_task(conn, task_id)
    if not conn.execute(_KEEP, {"b_id": task_id, "b_reviewer": reviewer_id}).rowcount:
        raise Conflict(f"task {task_id} is no longer waiting for review")


def rejected(conn: Connection, *, limit: int = 50) -> list[dict[str, Any]]:
    """Completed tasks whose answer the customer rejected, oldest completion first, with the
    response, the customer's comments and the workers' answers."""
    rows = conn.execute(
        select(tasks.c.id, tasks.c.type, tasks.c.instruction, tasks.c.params, tasks.c.response,
               tasks.c.customer_review_comments, tasks.c.completed_at, tasks.c.urgency, tasks.c.is_test,
               customers.c.name.label("customer"))
        .select_from(tasks.join(customers, customers.c.id == tasks.c.customer_id))
        .where(tasks.c.review_state == AUDIT, tasks.c.status == Status.COMPLETED.value)
        .order_by(tasks.c.completed_at, tasks.c.id).limit(limit)
    ).mappings().all()
    out = []
    for row in rows:
        item = dict(row)
        item["answers"] = [dict(a) for a in conn.execute(
            select(assignments.c.id, assignments.c.worker_id, assignments.c.answer, users.c.email)
            .select_from(assignments.outerjoin(users, users.c.id == assignments.c.worker_id))
            .where(assignments.c.task_id == row["id"], assignments.c.outcome == "submitted")
            .order_by(assignments.c.finished_at, assignments.c.id)).mappings()]
        out.append(item)
    return out
