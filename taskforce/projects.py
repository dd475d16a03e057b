"""Projects (scaleapi 2.x): a named task type with default parameters for its tasks.

A task created with ``project=NAME`` of an existing project takes the project's ``params`` under
its own (the task's own parameters win), before validation: whatever a task accepts, a project
can default, including parameters added later (``overlap`` and the other quality settings).
Projects are per customer and mode, like tasks; a task may still name a project that does not
exist (a plain label, as before projects existed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from taskforce.clock import format_ms
from taskforce.errors import Conflict, InvalidParameter, NotFound
from taskforce.models import projects
from taskforce.task_types import REGISTRY

#: Parameters that say where a task goes, not how it is done: never project defaults.
NOT_DEFAULTS = ("project", "batch", "unique_id")
NAME_LENGTH = 200


def check_name(value: Any, param: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidParameter(param, "is required: a non-empty string")
    if len(value) > NAME_LENGTH or "\x00" in value:
        raise InvalidParameter(param, f"must be at most {NAME_LENGTH} characters, without NUL")
    return value


def check_new_name(value: Any, param: str = "name") -> str:
    """A name for a new project or batch: ``check_name``, and one that its own URL
    (``/v1/projects/NAME``, ``/v1/batches/NAME``) names. Every path also answers with a
    trailing slash, so ``a/`` would be read as ``a`` (another project's, or nobody's); a line
    break is in no route; ``.`` and ``..`` are removed from URLs by clients."""
    name = check_name(value, param)
    if name.endswith("/") or "\n" in name or name in (".", ".."):
        raise InvalidParameter(param, "must not end with '/', hold a line break, or be '.' or '..' "
                                      "(its URL could not name it)")
    return name


def check_params(value: Any, param: str = "params") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(param, "must be an object of task parameters")
    refused = [k for k in NOT_DEFAULTS if k in value]
    if refused:
        raise InvalidParameter(f"{param}[{refused[0]}]", "cannot be a project default; give it on each task")
    return value


def check_type(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidParameter("type", "is required: a task type")
    task_type = REGISTRY.by_endpoint.get(value)
    if task_type is None:
        raise InvalidParameter("type", "must be one of " + ", ".join(t.name for t in REGISTRY))
    return task_type.name


def _history_entry(params: dict[str, Any], version: int, now: int) -> dict[str, Any]:
    return {**params, "version": version, "created_at": format_ms(now)}


def create(conn: Connection, *, customer_id: int, is_test: bool, name: str, type_name: str,
           params: dict[str, Any], now: int) -> dict[str, Any]:
    row = {"customer_id": customer_id, "is_test": is_test, "name": name, "type": type_name,
           "params": params, "param_history": [_history_entry(params, 0, now)], "created_at": now}
    try:
        conn.execute(insert(projects), row)
    except IntegrityError:  # uq_projects_name; the request's transaction rolls back
        raise Conflict(f"name: a project named {name!r} already exists") from None
    return row


def find(conn: Connection, name: str, *, customer_id: int, is_test: bool) -> dict[str, Any] | None:
    row = conn.execute(
        select(projects).where(projects.c.customer_id == customer_id, projects.c.is_test == is_test,
                               projects.c.name == name)
    ).mappings().first()
    return dict(row) if row else None


def get(conn: Connection, name: str, *, customer_id: int, is_test: bool) -> dict[str, Any]:
    row = find(conn, name, customer_id=customer_id, is_test=is_test)
    if row is None:
        raise NotFound(f"no project named {name!r}")
    return row


def list_all(conn: Connection, *, customer_id: int, is_test: bool) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(projects).where(projects.c.customer_id == customer_id, projects.c.is_test == is_test)
        .order_by(projects.c.created_at, projects.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def set_params(conn: Connection, name: str, changes: dict[str, Any], *, customer_id: int,
               is_test: bool, now: int) -> dict[str, Any]:
    """Merge ``changes`` over the project's params (a null removes one) as a new version."""
    query = select(projects).where(projects.c.customer_id == customer_id,
                                   projects.c.is_test == is_test, projects.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # two setParams at once: both versions are kept
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no project named {name!r}")
    params = {k: v for k, v in {**row["params"], **changes}.items() if v is not None}
    history = list(row["param_history"]) + [_history_entry(params, len(row["param_history"]), now)]
    conn.execute(update(projects).where(projects.c.id == row["id"])
                 .values(params=params, param_history=history))
    return {**row, "params": params, "param_history": history}


def with_defaults(conn: Connection, data: dict[str, Any], *, customer_id: int, is_test: bool,
                  type_name: str) -> dict[str, Any]:
    """The create body with the named project's params under it (the body's own win)."""
    name = data.get("project")
    if not isinstance(name, str):
        return data
    project = find(conn, name, customer_id=customer_id, is_test=is_test)
    if project is None:
        return data
    if project["type"] != type_name:
        raise InvalidParameter("project", f"{name!r} is a {project['type']} project; create its "
                                          f"tasks at /v1/task/{project['type']}")
    return {**project["params"], **data}


def project_object(row: dict[str, Any]) -> dict[str, Any]:
    """As scaleapi 2.x's Project reads it: ``param_history[-1]`` holds the current params and
    their ``version``."""
    return {"name": row["name"], "type": row["type"], "params": row["params"],
            "param_history": row["param_history"], "created_at": format_ms(row["created_at"])}
