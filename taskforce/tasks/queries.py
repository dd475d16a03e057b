"""Listing tasks, shared by the API and the dashboard: newest first, keyset-paginated on
(created_at, id) so a page deep in a million rows costs what the first page costs."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.engine import Connection

from taskforce.errors import InvalidParameter
from taskforce.ids import is_task_id
from taskforce.models import CUSTOMER_GOLD, assignments, task_counts, tasks, users
from taskforce.tasks import tags as task_tags
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
    #: One unique_id, or several (scaleapi 2.x sends a list as repeated keys).
    unique_id: str | tuple[str, ...] | None = None
    completed_after_ms: int | None = None  # completed_at >= after
    completed_before_ms: int | None = None  # completed_at < before
    updated_after_ms: int | None = None  # updated_at (or created_at, never updated) >= after
    updated_before_ms: int | None = None
    #: Tasks carrying any of these tags.
    tags: tuple[str, ...] | None = None
    #: Any of these audit states; ``pending`` is a completed task not audited yet.
    customer_review_status: tuple[str, ...] | None = None


#: Filters that need the rows themselves: the list's total is then counted, not summed from
#: task_counts.
_ROW_FILTERS = ("urgency", "start_ms", "end_ms", "project", "batch", "unique_id", "completed_after_ms",
                "completed_before_ms", "updated_after_ms", "updated_before_ms", "tags",
                "customer_review_status")


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
    # Gold (evaluation) tasks are listed by /v1/evaluation_tasks, not here.
    cond: list[Any] = [tasks.c.customer_id == f.customer_id, tasks.c.gold.is_(False)]
    if f.is_test is not None:
        cond.append(tasks.c.is_test == f.is_test)
    for name in _EQUALITY_FILTERS:
        value = getattr(f, name)
        if isinstance(value, tuple):
            cond.append(tasks.c[name].in_(value))
        elif value is not None:
            cond.append(tasks.c[name] == value)
    if f.start_ms is not None:
        cond.append(tasks.c.created_at >= f.start_ms)
    if f.end_ms is not None:
        cond.append(tasks.c.created_at < f.end_ms)
    if f.completed_after_ms is not None:
        cond.append(tasks.c.completed_at >= f.completed_after_ms)
    if f.completed_before_ms is not None:
        cond.append(tasks.c.completed_at < f.completed_before_ms)
    updated = func.coalesce(tasks.c.updated_at, tasks.c.created_at)
    if f.updated_after_ms is not None:
        cond.append(updated >= f.updated_after_ms)
    if f.updated_before_ms is not None:
        cond.append(updated < f.updated_before_ms)
    if f.tags:
        cond.append(task_tags.has_any(f.tags))
    if f.customer_review_status:
        reviewed = [s for s in f.customer_review_status if s != "pending"]
        either = [tasks.c.customer_review_status.in_(reviewed)] if reviewed else []
        if "pending" in f.customer_review_status:
            either.append(and_(tasks.c.status == "completed", tasks.c.customer_review_status.is_(None)))
        cond.append(or_(*either))
    return cond


def _gold_count(conn: Connection, f: TaskFilter) -> int:
    """The customer's gold tasks among ``task_counts``' figures (the triggers count every row),
    from the small partial index ``ix_tasks_customer_gold``."""
    cond = [text(CUSTOMER_GOLD.sql(conn.dialect.name)), tasks.c.customer_id == f.customer_id]
    if f.is_test is not None:
        cond.append(tasks.c.is_test == f.is_test)
    if f.status is not None:
        cond.append(tasks.c.status == f.status)
    if f.type is not None:
        cond.append(tasks.c.type == f.type)
    return int(conn.execute(select(func.count()).select_from(tasks).where(*cond)).scalar_one())


def count(conn: Connection, f: TaskFilter) -> int:
    """How many tasks match. Filters by mode, type and status alone (the list's usual total) are
    answered from ``task_counts``, which triggers keep in step with ``tasks`` in the same
    transaction: a few rows summed instead of an index scan that grew with the customer (12 ms
    for 100,000 tasks on SQLite, 15-40 ms on PostgreSQL; see bench/README.md). Other filters
    count the rows."""
    if all(getattr(f, name) is None for name in _ROW_FILTERS):
        cond = [task_counts.c.customer_id == f.customer_id]
        if f.is_test is not None:
            cond.append(task_counts.c.is_test == f.is_test)
        if f.status is not None:
            cond.append(task_counts.c.status == f.status)
        if f.type is not None:
            cond.append(task_counts.c.type == f.type)
        counted = int(conn.execute(select(func.coalesce(func.sum(task_counts.c.n), 0)).where(*cond)).scalar_one())
        return counted - _gold_count(conn, f)
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


# -- the dashboard's search box -------------------------------------------------------------------

#: How many of the customer's newest tasks (in the chosen mode) a metadata search reads: the
#: search costs the same at a thousand tasks and at a million (no index covers metadata values).
METADATA_SCAN = 10_000


@dataclass(frozen=True)
class SearchResult:
    rows: list[dict[str, Any]]
    #: How many tasks the metadata search read, and whether it stopped at ``METADATA_SCAN``
    #: (older tasks were not looked at).
    scanned: int
    scan_capped: bool


def _json_text(value: Any) -> str | None:
    """A top-level metadata value as the search box compares it: strings as they are, numbers,
    booleans and null as JSON writes them; objects and arrays are not searched."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    return None


def metadata_matches(metadata: Any, text: str) -> bool:
    """``key=value`` matches a task whose top-level ``key`` holds ``value``; any text also matches
    a task with a top-level value equal to all of it (so a value holding "=" is found too)."""
    if not isinstance(metadata, dict):
        return False
    key, sep, value = text.partition("=")
    if sep and key.strip() in metadata and _json_text(metadata[key.strip()]) == value.strip():
        return True
    return any(_json_text(v) == text for v in metadata.values())


def search(conn: Connection, customer_id: int, is_test: bool, text: str, *, limit: int = 50,
           scan: int = METADATA_SCAN) -> SearchResult:
    """The customer's tasks whose id or ``unique_id`` is ``text`` (either mode: an id names one
    task wherever it is), then those in this mode whose metadata matches (``metadata_matches``),
    newest first, reading at most ``scan`` of the newest tasks. The id and unique_id look-ups use
    the primary key and ``uq_tasks_unique_id``."""
    text = text.strip()
    found: list[str] = []
    if not text:
        return SearchResult([], 0, False)
    if is_task_id(text):
        found += conn.execute(select(tasks.c.id).where(tasks.c.id == text,
                                                       tasks.c.customer_id == customer_id)).scalars()
    if len(text) <= 200:
        found += conn.execute(
            select(tasks.c.id).where(tasks.c.customer_id == customer_id,
                                     tasks.c.is_test.in_([False, True]), tasks.c.unique_id == text)
            .order_by(tasks.c.is_test != is_test)  # this mode's first
        ).scalars()
    scanned = 0
    result = conn.execute(
        select(tasks.c.id, tasks.c.metadata)
        .where(tasks.c.customer_id == customer_id, tasks.c.is_test == is_test)
        .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
        .limit(scan)
    )
    for task_id, metadata in result:
        if len(found) >= limit:
            break
        scanned += 1
        if task_id not in found and metadata_matches(metadata, text):
            found.append(task_id)
    result.close()
    found = list(dict.fromkeys(found))[:limit]
    if not found:
        return SearchResult([], scanned, scanned >= scan)
    by_id = {r["id"]: dict(r) for r in conn.execute(
        select(*[tasks.c[name] for name in TASK_COLUMNS]).where(tasks.c.id.in_(found))
    ).mappings()}
    return SearchResult([by_id[i] for i in found if i in by_id], scanned, scanned >= scan)


def whole_task(conn: Connection, task_id: str) -> dict[str, Any] | None:
    """Every column of one task, for the operator's task page (the workforce's own columns too:
    answers, review, hold, gold); None when there is no such task."""
    row = conn.execute(select(tasks).where(tasks.c.id == task_id)).mappings().first()
    return dict(row) if row else None


def assignments_of(conn: Connection, task_id: str) -> list[dict[str, Any]]:
    """Every assignment of one task, oldest first, for the operator's task page: who held it
    (``email``; null for the test-mode simulated worker, whose ``simulated_worker`` numbers it),
    when, how it ended (``outcome``, null while open) and the ``answer`` given."""
    rows = conn.execute(
        select(assignments.c.id, assignments.c.worker_id, users.c.email, assignments.c.simulated_worker,
               assignments.c.claimed_at, assignments.c.lease_expires_at, assignments.c.finished_at,
               assignments.c.outcome, assignments.c.answer, assignments.c.gold_correct)
        .outerjoin(users, users.c.id == assignments.c.worker_id)
        .where(assignments.c.task_id == task_id)
        .order_by(assignments.c.claimed_at, assignments.c.id)
    ).mappings()
    return [dict(r) for r in rows]
