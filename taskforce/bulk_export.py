"""``taskforce tasks export``: a customer's tasks as the API returns them, as JSON Lines or CSV.

Streamed in keyset pages of ``PAGE`` rows, oldest first on (created_at, id) from the customer's
list index: each page is its own short read transaction, so memory stays flat at a million tasks
and a long export never holds SQLite's WAL open against checkpoints (or a PostgreSQL snapshot).
Tasks created while it runs may or may not be included; none is written twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, or_, select

from taskforce.db import Database
from taskforce.models import tasks
from taskforce.tasks import queries
from taskforce.tasks.representation import TASK_COLUMNS, task_object

FORMATS = ("jsonl", "csv")
PAGE = 2000

#: CSV columns: the task object's keys; objects (params, metadata, response) as JSON text.
CSV_COLUMNS = ("task_id", "created_at", "type", "status", "urgency", "instruction", "callback_url",
               "params", "metadata", "project", "batch", "unique_id", "completed_at", "response",
               "callback_succeeded")
_JSON_CELLS = frozenset({"params", "metadata", "response"})


@dataclass(frozen=True)
class ExportFilter:
    customer_id: int
    is_test: bool
    status: str | None = None
    since_ms: int | None = None  # created_at >= since


def _page_statement(f: ExportFilter, after: bool):
    cond = [tasks.c.customer_id == f.customer_id, tasks.c.is_test == f.is_test]
    if f.status is not None:
        cond.append(tasks.c.status == f.status)
    if f.since_ms is not None:
        cond.append(tasks.c.created_at >= f.since_ms)
    if after:
        cond.append(and_(tasks.c.created_at >= bindparam("after_at"),
                         or_(tasks.c.created_at > bindparam("after_at"),
                             tasks.c.id > bindparam("after_id"))))
    return (select(*[tasks.c[name] for name in TASK_COLUMNS]).where(*cond)
            .order_by(tasks.c.created_at, tasks.c.id).limit(PAGE))


def count(db: Database, f: ExportFilter) -> int:
    with db.read() as conn:
        return queries.count(conn, queries.TaskFilter(customer_id=f.customer_id, is_test=f.is_test,
                                                      status=f.status, start_ms=f.since_ms))


def task_pages(db: Database, f: ExportFilter) -> Iterator[list[dict[str, Any]]]:
    """The matching tasks, oldest first, a page at a time."""
    first, rest = _page_statement(f, after=False), _page_statement(f, after=True)
    params: dict[str, Any] = {}
    while True:
        with db.read() as conn:
            rows = [dict(r) for r in conn.execute(rest if params else first, params).mappings()]
        if not rows:
            return
        yield rows
        if len(rows) < PAGE:
            return
        params = {"after_at": rows[-1]["created_at"], "after_id": rows[-1]["id"]}


def jsonl_lines(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(task_object(r)) + b"\n" for r in rows)


def csv_header() -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(CSV_COLUMNS)
    return out.getvalue().encode()


def csv_lines(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        obj = task_object(row)
        writer.writerow([
            orjson.dumps(obj[c]).decode() if c in _JSON_CELLS and c in obj
            else ("" if obj.get(c) is None else str(obj[c]).lower() if isinstance(obj[c], bool) else obj[c])
            for c in CSV_COLUMNS])
    return out.getvalue().encode()
