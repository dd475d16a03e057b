"""The operator's Review queue: tasks whose answers could not be combined with enough confidence
wait here (``tasks.review_state = 'needed'``: pending, every slot filled, so no worker is handed
them) until an operator accepts one answer, writes the response, or asks for one more answer.

``finish_review`` is ``service.finish_review`` (which records the method ``review`` in the task's
quality) with the operator's errors named for the page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from taskforce.errors import Conflict, InvalidParameter, NotFound
from taskforce.models import assignments, customers, tasks, users
from taskforce.task_types import REGISTRY
from taskforce.task_types.answers import Answer
from taskforce.tasks import service
from taskforce.tasks.status import Status

NEEDED = "needed"
DONE = "done"

_WAITING = (tasks.c.id == bindparam("b_id"), tasks.c.status == Status.PENDING.value,
            tasks.c.review_state == NEEDED)
#: Back to the workers: one more answer needed, so the task has a free slot again.
_SEND_BACK = update(tasks).where(*_WAITING).values(answers_needed=tasks.c.answers_needed + 1,
                                                   review_state=None)


def _waiting_task(conn: Connection, task_id: str) -> dict[str, Any]:
    service._lock_task(conn, task_id)
    try:
        task = service.get(conn, task_id)
    except NotFound:
        raise NotFound(f"task_id: no task {task_id!r}") from None
    state = conn.execute(select(tasks.c.review_state).where(tasks.c.id == task_id)).scalar()
    if task["status"] != Status.PENDING.value or state != NEEDED:
        raise Conflict(f"task {task_id} is {task['status']} and not waiting for review")
    return task


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
