"""What a customer may change on a task after creating it (scaleapi 2.x's task methods): its
metadata, its tags, its unique_id, and their audit of the result.

Each function takes the caller's connection, is scoped to the customer and mode (another's task
is NotFound, as everywhere in the API), and returns the task row as ``task_object`` wants it.
``updated_at`` is stamped by the database trigger of migration 0005.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from taskforce.errors import Conflict, InvalidParameter
from taskforce.models import tasks
from taskforce.quality import review
from taskforce.tasks import service
from taskforce.tasks import tags as task_tags
from taskforce.tasks.status import Status

TagChange = Literal["set", "add", "remove"]
#: Audit comments kept per task (the newest), and the length of one.
MAX_COMMENTS = 100
COMMENT_LENGTH = 10_000


def _scope(task_id: str, customer_id: int, is_test: bool) -> list[Any]:
    return [tasks.c.id == task_id, tasks.c.customer_id == customer_id, tasks.c.is_test == is_test]


def set_metadata(conn: Connection, task_id: str, metadata: Any, *, customer_id: int,
                 is_test: bool) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise InvalidParameter("metadata", "must be a JSON object")
    service.get(conn, task_id, customer_id=customer_id, is_test=is_test)  # 404 if not ours
    conn.execute(update(tasks).where(*_scope(task_id, customer_id, is_test)).values(metadata=metadata))
    return service.get(conn, task_id, customer_id=customer_id, is_test=is_test)


def change_tags(conn: Connection, task_id: str, given: list[str], change: TagChange, *,
                customer_id: int, is_test: bool) -> dict[str, Any]:
    """Replace the tags (``set``), add to them, or remove some; order kept, no duplicates."""
    # Read and write under one row lock (PostgreSQL), so two concurrent additions both land.
    query = select(tasks.c.tags).where(*_scope(task_id, customer_id, is_test))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    current = conn.execute(query).scalar()
    if current is None:
        service.get(conn, task_id, customer_id=customer_id, is_test=is_test)  # raises NotFound
    current = list(current or [])
    if change == "set":
        new = given
    elif change == "add":
        new = current + [t for t in given if t not in current]
    else:
        new = [t for t in current if t not in given]
    if len(new) > task_tags.MAX_TAGS:
        raise InvalidParameter("tags", f"a task carries at most {task_tags.MAX_TAGS} tags")
    if new != current:
        conn.execute(update(tasks).where(*_scope(task_id, customer_id, is_test)).values(tags=new))
    return service.get(conn, task_id, customer_id=customer_id, is_test=is_test)


def set_unique_id(conn: Connection, task_id: str, unique_id: str | None, *, customer_id: int,
                  is_test: bool) -> dict[str, Any]:
    """Give the task a unique_id (Conflict if another task of the customer and mode has it),
    or clear it with None."""
    service.get(conn, task_id, customer_id=customer_id, is_test=is_test)  # 404 if not ours
    try:
        conn.execute(update(tasks).where(*_scope(task_id, customer_id, is_test)).values(unique_id=unique_id))
    except IntegrityError:  # the request's transaction is rolled back as the Conflict leaves
        raise Conflict(f"unique_id: a task with unique_id {unique_id!r} already exists") from None
    return service.get(conn, task_id, customer_id=customer_id, is_test=is_test)


def audit(conn: Connection, task_id: str, accepted: bool, comments: str | None, *, customer_id: int,
          is_test: bool) -> dict[str, Any]:
    """Record the customer's verdict on a completed task (``accepted`` or ``rejected``) and
    their comment, if any; a later audit replaces the verdict and adds its comment. A rejected
    task waits in the operators' Review queue (quality/review.py) until one corrects or keeps
    its response; accepting it meanwhile takes it out again."""
    task = service.get(conn, task_id, customer_id=customer_id, is_test=is_test)
    if task["status"] != Status.COMPLETED.value:
        raise Conflict(f"task {task_id} is {task['status']}; only completed tasks can be audited")
    history = list(task.get("customer_review_comments") or [])
    if comments:
        history = (history + [comments])[-MAX_COMMENTS:]
    conn.execute(
        update(tasks)
        .where(*_scope(task_id, customer_id, is_test), tasks.c.status == Status.COMPLETED.value)
        .values(customer_review_status="accepted" if accepted else "rejected",
                customer_review_comments=history or None, review_state=review.after_audit(accepted))
    )
    return service.get(conn, task_id, customer_id=customer_id, is_test=is_test)
