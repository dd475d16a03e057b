"""Listing tasks, shared by the API and the dashboard: newest first, keyset-paginated on
(created_at, id) so a page deep in a million rows costs what the first page costs."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from taskforce.errors import InvalidParameter
from taskforce.models import task_counts, tasks
from taskforce.tasks.representation import TASK_COLUMNS

MAX_LIMIT = 100


@dataclass(frozen=True)
class TaskFilter:
    customer_id: int
    is_test: bool | None = None
    status: str | None = None
    type: str | None = None
    urgency: str | None = None
    start_ms: int | None = None  # created_at >= start
    end_ms: int | None = None  # created_at < end
    project: str | None = None
    batch: str | None = None
    unique_id: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int | None
    limit: int
    offset: int
    has_more: bool
    next_token: str | None


def encode_token(created_at: int, task_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at}:{task_id}".encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created, _, task_id = raw.partition(":")
        # Only what task ids are made of: never a NUL or other text PostgreSQL would refuse.
        if len(task_id) != 24 or task_id.strip("0123456789abcdef"):
            raise ValueError
        # Digits only, and a time a BIGINT column can be compared with (beyond it both drivers
        # raise rather than answer "no rows").
        if not created.isascii() or not created.isdigit() or int(created) >= 2**63:
            raise ValueError
        return int(created), task_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameter("next_token", "is not a token this API returned") from None


#: TaskFilter fields that match their column exactly.
_EQUALITY_FILTERS = ("status", "type", "urgency", "project", "batch", "unique_id")


def _conditions(f: TaskFilter) -> list[Any]:
    cond: list[Any] = [tasks.c.customer_id == f.customer_id]
    if f.is_test is not None:
        cond.append(tasks.c.is_test == f.is_test)
    for name in _EQUALITY_FILTERS:
        value = getattr(f, name)
        if value is not None:
            cond.append(tasks.c[name] == value)
    if f.start_ms is not None:
        cond.append(tasks.c.created_at >= f.start_ms)
    if f.end_ms is not None:
        cond.append(tasks.c.created_at < f.end_ms)
    return cond


def count(conn: Connection, f: TaskFilter) -> int:
    """How many tasks match. Filters by mode, type and status alone (the list's usual total) are
    answered from ``task_counts``, which triggers keep in step with ``tasks`` in the same
    transaction: a few rows summed instead of an index scan that grew with the customer (12 ms
    for 100,000 tasks on SQLite, 15-40 ms on PostgreSQL; see bench/README.md). Other filters
    count the rows."""
    if (f.urgency is None and f.start_ms is None and f.end_ms is None and f.project is None
            and f.batch is None and f.unique_id is None):
        cond = [task_counts.c.customer_id == f.customer_id]
        if f.is_test is not None:
            cond.append(task_counts.c.is_test == f.is_test)
        if f.status is not None:
            cond.append(task_counts.c.status == f.status)
        if f.type is not None:
            cond.append(task_counts.c.type == f.type)
        return int(conn.execute(select(func.coalesce(func.sum(task_counts.c.n), 0)).where(*cond)).scalar_one())
    return conn.execute(select(func.count()).select_from(tasks).where(*_conditions(f))).scalar_one()


def list_page(
    conn: Connection,
    f: TaskFilter,
    *,
    limit: int = MAX_LIMIT,
    offset: int = 0,
    next_token: str | None = None,
    with_total: bool = True,
) -> Page:
    cond = _conditions(f)
    if next_token:
        created, task_id = decode_token(next_token)
        # Written as a range on created_at plus a tie-break so both backends use the index.
        cond.append(
            and_(tasks.c.created_at <= created,
                 or_(tasks.c.created_at < created, tasks.c.id < task_id))
        )
    query = (
        select(*[tasks.c[name] for name in TASK_COLUMNS])
        .where(*cond)
        .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    result = conn.execute(query)
    names = list(result.keys())
    # zip over a fetched list: a RowMapping per row recomputes its keys (a third of a page's time).
    rows = [dict(zip(names, r)) for r in result.all()]
    has_more = len(rows) > limit
    rows = rows[:limit]
    token = encode_token(rows[-1]["created_at"], rows[-1]["id"]) if has_more and rows else None
    total = count(conn, f) if with_total else None
    return Page(rows, total, limit, offset, has_more, token)
