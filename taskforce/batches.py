"""Batches (scaleapi 2.x): a named set of a project's tasks.

A batch is ``staging`` while it takes tasks: tasks created into it are *held* (workers are not
offered them, the test-mode worker does not answer them) until ``finalize``, which releases them
all and makes it ``in_progress``. Once every task in a finalised batch is final (completed or
canceled) the batch is ``completed`` and, if it has a ``callback`` URL, one signed callback is
owed through the same outbox, dispatcher and address policy as task callbacks.

The completion is noticed in the transaction that makes the last task final (``task_final``,
called by the task service), under a lock on the batch row on PostgreSQL: two last tasks
finishing at once in two transactions cannot both miss it, because the second to take the lock
counts after the first committed.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from taskforce.callbacks import outbox
from taskforce.clock import format_ms
from taskforce.errors import Conflict, InvalidParameter, NotFound
from taskforce.models import batches, tasks
from taskforce.tasks.status import Status

STAGING, IN_PROGRESS, COMPLETED = "staging", "in_progress", "completed"
STATUSES = (STAGING, IN_PROGRESS, COMPLETED)
MAX_LIMIT = 100


def create(conn: Connection, *, customer_id: int, is_test: bool, name: str, project: str,
           callback: str, metadata: dict[str, Any], now: int) -> dict[str, Any]:
    row = {"customer_id": customer_id, "is_test": is_test, "name": name, "project": project,
           "callback": callback, "metadata": metadata, "status": STAGING, "created_at": now,
           "finalized_at": None, "completed_at": None}
    try:
        row["id"] = conn.execute(insert(batches), row).inserted_primary_key[0]
    except IntegrityError:  # uq_batches_name; the request's transaction rolls back
        raise Conflict(f"name: a batch named {name!r} already exists") from None
    return row


def _select(name: str, customer_id: int, is_test: bool):
    return select(batches).where(batches.c.customer_id == customer_id, batches.c.is_test == is_test,
                                 batches.c.name == name)


def find(conn: Connection, name: str, *, customer_id: int, is_test: bool,
         lock: bool = False) -> dict[str, Any] | None:
    query = _select(name, customer_id, is_test)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def get(conn: Connection, name: str, *, customer_id: int, is_test: bool, lock: bool = False) -> dict[str, Any]:
    row = find(conn, name, customer_id=customer_id, is_test=is_test, lock=lock)
    if row is None:
        raise NotFound(f"no batch named {name!r}")
    return row


def list_page(conn: Connection, *, customer_id: int, is_test: bool, status: str | None,
              project: str | None, start_ms: int | None, end_ms: int | None, limit: int,
              offset: int) -> tuple[list[dict[str, Any]], int]:
    """Newest first; returns the page and the total."""
    cond = [batches.c.customer_id == customer_id, batches.c.is_test == is_test]
    if status is not None:
        cond.append(batches.c.status == status)
    if project is not None:
        cond.append(batches.c.project == project)
    if start_ms is not None:
        cond.append(batches.c.created_at >= start_ms)
    if end_ms is not None:
        cond.append(batches.c.created_at < end_ms)
    rows = conn.execute(select(batches).where(*cond)
                        .order_by(batches.c.created_at.desc(), batches.c.id.desc())
                        .limit(limit).offset(offset)).mappings()
    total = conn.execute(select(func.count()).select_from(batches).where(*cond)).scalar_one()
    return [dict(r) for r in rows], total


def set_metadata(conn: Connection, name: str, metadata: Any, *, customer_id: int,
                 is_test: bool) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise InvalidParameter("metadata", "must be a JSON object")
    row = get(conn, name, customer_id=customer_id, is_test=is_test)
    conn.execute(update(batches).where(batches.c.id == row["id"]).values(metadata=metadata))
    return {**row, "metadata": metadata}


def counts(conn: Connection, row: dict[str, Any]) -> dict[str, int]:
    """How many of the batch's tasks are in each status (the partial index on batch)."""
    found = dict(conn.execute(
        select(tasks.c.status, func.count())
        .where(tasks.c.customer_id == row["customer_id"], tasks.c.is_test == row["is_test"],
               tasks.c.batch == row["name"])
        .group_by(tasks.c.status)
    ).all())
    # ``error`` is in scaleapi 2.x's status answer; no task of ours ends in error.
    return {"pending": found.get(Status.PENDING.value, 0),
            "completed": found.get(Status.COMPLETED.value, 0),
            "canceled": found.get(Status.CANCELED.value, 0), "error": 0}


def finalize(conn: Connection, name: str, *, customer_id: int, is_test: bool, now: int) -> dict[str, Any]:
    """Release the batch's held tasks to the workers; finalising twice changes nothing."""
    row = get(conn, name, customer_id=customer_id, is_test=is_test, lock=True)
    if row["status"] != STAGING:
        return row
    conn.execute(update(batches).where(batches.c.id == row["id"], batches.c.status == STAGING)
                 .values(status=IN_PROGRESS, finalized_at=now))
    conn.execute(update(tasks).where(tasks.c.customer_id == customer_id, tasks.c.is_test == is_test,
                                     tasks.c.batch == name, tasks.c.held.is_(True))
                 .values(held=False))
    row = {**row, "status": IN_PROGRESS, "finalized_at": now}
    return _complete_if_done(conn, row, now=now)


def _complete_if_done(conn: Connection, row: dict[str, Any], *, now: int) -> dict[str, Any]:
    still_pending = conn.execute(
        select(tasks.c.id).where(tasks.c.customer_id == row["customer_id"],
                                 tasks.c.is_test == row["is_test"], tasks.c.batch == row["name"],
                                 tasks.c.status == Status.PENDING.value).limit(1)
    ).first()
    if still_pending is not None:
        return row
    changed = conn.execute(update(batches).where(batches.c.id == row["id"], batches.c.status == IN_PROGRESS)
                           .values(status=COMPLETED, completed_at=now)).rowcount
    if not changed:
        return row
    row = {**row, "status": COMPLETED, "completed_at": now}
    if row["callback"]:
        outbox.enqueue_batch(conn, batch_id=row["id"], customer_id=row["customer_id"],
                             url=row["callback"], body=callback_body(conn, row), now=now)
    return row


def callback_body(conn: Connection, row: dict[str, Any]) -> bytes:
    """The completed batch's callback: the batch as the API shows it and its tasks' counts."""
    return orjson.dumps({"batch": batch_object(row), "counts": counts(conn, row)})


def get_by_id(conn: Connection, batch_id: int, *, customer_id: int) -> dict[str, Any]:
    """The customer's batch with this id (either mode); NotFound for another customer's."""
    row = conn.execute(select(batches).where(batches.c.id == batch_id, batches.c.customer_id == customer_id)
                       ).mappings().first()
    if row is None:
        raise NotFound(f"no batch with id {batch_id}")
    return dict(row)


def task_final(conn: Connection, task: dict[str, Any], *, now: int) -> None:
    """A task just became final (completed or canceled) in this transaction: complete its
    batch if that was the batch's last pending task."""
    if task.get("batch") is None:
        return
    row = find(conn, task["batch"], customer_id=task["customer_id"], is_test=task["is_test"], lock=True)
    if row is not None and row["status"] == IN_PROGRESS:
        _complete_if_done(conn, row, now=now)


def accept_task(conn: Connection, name: str, project: str | None, *, customer_id: int,
                is_test: bool) -> tuple[str | None, bool]:
    """For a task created with ``batch=name``: its project (the batch's, when the task names
    none) and whether it is held. A batch that does not exist is a plain label, as before
    batches existed."""
    row = find(conn, name, customer_id=customer_id, is_test=is_test, lock=True)
    if row is None:
        return project, False
    if project is not None and project != row["project"]:
        raise InvalidParameter("batch", f"{name!r} belongs to project {row['project']!r}, not {project!r}")
    if row["status"] == COMPLETED:
        raise Conflict(f"batch: {name!r} is completed; create tasks in a new batch")
    return row["project"], row["status"] == STAGING


def batch_object(row: dict[str, Any]) -> dict[str, Any]:
    """As scaleapi 2.x's Batch reads it (name, status, project, created_at, metadata)."""
    obj = {"name": row["name"], "project": row["project"], "status": row["status"],
           "callback": row["callback"] or None, "metadata": row["metadata"],
           "created_at": format_ms(row["created_at"])}
    if row.get("finalized_at") is not None:
        obj["finalized_at"] = format_ms(row["finalized_at"])
    if row.get("completed_at") is not None:
        obj["completed_at"] = format_ms(row["completed_at"])
    return obj
