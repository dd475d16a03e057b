"""What creating a task checks against the customer's projects, batches and files, inside the
create's own transaction (scaleapi 2.x's resources):

- ``project`` naming an existing project: the project's params are defaults under the task's
  own, before validation, so any parameter a task takes (now or later) can be defaulted;
- ``batch`` naming an existing batch: the task takes the batch's project and is held until the
  batch is finalised (a completed batch takes no more tasks);
- ``scaledata://ID`` attachments: each must be a file this customer stored.

A body that names none of these is parsed before the transaction, as it always was; these
checks cost nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from taskforce import batches, projects
from taskforce.files import records
from taskforce.models import tasks
from taskforce.task_types.base import CreateParams, TaskType


def needs_context(data: Mapping[str, Any]) -> bool:
    """Whether the body names a project, a batch or a stored file."""
    if data.get("project") is not None or data.get("batch") is not None:
        return True
    for value in data.values():
        if isinstance(value, str) and value.startswith(records.SCHEME):
            return True
        if isinstance(value, list) and any(isinstance(v, str) and v.startswith(records.SCHEME) for v in value):
            return True
    return False


def prepare(conn: Connection, data: Mapping[str, Any], *, customer_id: int, is_test: bool,
            task_type: TaskType) -> tuple[CreateParams, bool]:
    """The validated parameters and whether the task is held (its batch is not finalised)."""
    merged = dict(data)
    held = False
    # Names that are not valid labels are never looked up (PostgreSQL refuses a NUL in a query):
    # validation below names what is wrong with them.
    batch, project = _label(merged.get("batch")), _label(merged.get("project"))
    if batch is not None and merged.get("project") in (None, project):
        project, held = batches.accept_task(conn, batch, project, customer_id=customer_id,
                                            is_test=is_test)
        if project is not None:
            merged["project"] = project
    if project is not None:
        merged = projects.with_defaults(conn, merged, customer_id=customer_id, is_test=is_test,
                                        type_name=task_type.name)
    params = task_type.parse(merged)
    records.check_owned(conn, records.scaledata_urls(params.task_params()), customer_id=customer_id)
    return params, held


def hold(conn: Connection, task_id: str) -> None:
    """Keep a just-created task from workers until its batch is finalised."""
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(held=True))


def _label(value: Any) -> str | None:
    if isinstance(value, str) and value.strip() and len(value) <= projects.NAME_LENGTH and "\x00" not in value:
        return value
    return None
