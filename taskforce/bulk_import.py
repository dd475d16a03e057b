"""``taskforce tasks import``: many create bodies from a JSON Lines or CSV file, in batches.

Each line is one create body, validated by exactly the API's code (``bodies.parse_json`` or the
form decoder for CSV cells, then ``TaskType.parse``), so a bad line gets the API's own 400
message, prefixed with its line number. Its task type comes from the line's ``type`` (a type or
endpoint name, as in ``/v1/task/<type>``) or from ``--type``.

Writing. Good lines are inserted ``batch_size`` at a time, one transaction per batch, with one
``executemany`` of a prepared INSERT: a batch is all there or not at all, so nothing is ever half
written. The ``task_counts`` triggers run per row as for the API (bench/README.md measures their
share).

Idempotency. The INSERT says ``ON CONFLICT (customer_id, is_test, unique_id) DO NOTHING``, so
re-running a half-done import creates nothing twice: lines whose ``unique_id`` the customer
already has are skipped and counted as "already there" (the batch's rowcount says how many went
in). Two lines of one file with one ``unique_id`` are a conflict, as the API's 409.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from taskforce import ids, pg_wakeups, signals
from taskforce.api import bodies
from taskforce.clock import now_ms
from taskforce.db import Database
from taskforce.errors import InvalidParameter, TaskforceError
from taskforce.models import tasks
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import TaskType
from taskforce.tasks.status import PRIORITY, Status

FORMATS = ("jsonl", "csv")
DEFAULT_BATCH = 2000

_COLUMNS = ("id", "customer_id", "is_test", "type", "status", "urgency", "priority", "instruction",
            "callback_url", "params", "metadata", "created_at", "project", "batch", "unique_id")
_PRIORITY = {getattr(u, "value", u): p for u, p in PRIORITY.items()}
_PENDING = Status.PENDING.value


class ImportRefused(TaskforceError):
    """The import cannot run at all (unreadable file, unknown type); one line for the CLI."""

    status_code = 400


@dataclass
class Report:
    lines: int = 0
    created: int = 0
    #: Lines whose unique_id the customer already has (an earlier run of the same file).
    existing: int = 0
    #: (line number, the API's message) for each line refused.
    bad: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def rate(self) -> float:
        return self.created / self.seconds if self.seconds > 0 else 0.0


def format_of(path: Path, given: str | None) -> str:
    fmt = (given or path.suffix.lstrip(".")).lower()
    if fmt in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if fmt == "csv":
        return "csv"
    raise ImportRefused(f"cannot tell the format of {path.name}: say --format jsonl or --format csv")


def type_named(name: Any) -> TaskType:
    if isinstance(name, str) and name in REGISTRY.by_endpoint:
        return REGISTRY.by_endpoint[name]
    if isinstance(name, str) and name in REGISTRY.by_name:
        return REGISTRY.by_name[name]
    known = ", ".join(sorted(REGISTRY.by_endpoint))
    raise InvalidParameter("type", f"must be one of {known}")


# -- reading: (line number, bytes read so far, the body or the reason it is not one) -------------


Record = tuple[int, int, "dict[str, Any] | TaskforceError"]


def _jsonl_records(stream: BinaryIO) -> Iterator[Record]:
    read = 0
    for number, line in enumerate(stream, start=1):
        read += len(line)
        if not line.strip():
            continue
        try:
            yield number, read, bodies.parse_json(line)
        except TaskforceError as exc:
            yield number, read, exc


def _csv_records(stream: BinaryIO, default_type: TaskType | None) -> Iterator[Record]:
    read = 0

    def text_lines() -> Iterator[str]:
        nonlocal read
        for raw in stream:
            # utf-8-sig on the first line: spreadsheets start their CSV with a byte-order mark.
            yield raw.decode("utf-8-sig" if read == 0 else "utf-8", errors="replace")
            read += len(raw)

    reader = csv.reader(text_lines())
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip() for h in header]
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, read, InvalidParameter("body", f"is not valid CSV ({exc})")
            continue
        if not any(cell.strip() for cell in row):
            continue
        # Empty cells are absent parameters, as an omitted form field is.
        pairs = [(h, v) for h, v in zip(header, row) if v != ""]
        try:
            named = next((v for h, v in pairs if h == "type"), None)
            task_type = type_named(named) if named is not None else default_type
            if task_type is None:
                raise InvalidParameter("type", "is required (a type column or --type)")
            data = bodies.decode_pairs(pairs, task_type.kinds)
            data["type"] = task_type.name
            yield reader.line_num, read, data
        except TaskforceError as exc:
            yield reader.line_num, read, exc


def records(stream: BinaryIO, fmt: str, default_type: TaskType | None) -> Iterator[Record]:
    return _jsonl_records(stream) if fmt == "jsonl" else _csv_records(stream, default_type)


# -- validating and writing ------------------------------------------------------------------------


@dataclass
class Batch:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    unique_ids: list[tuple[int, str]] = field(default_factory=list)  # (index in rows, unique_id)


def _existing_statement(postgres: bool):
    # PostgreSQL gets one array parameter: an IN list of 500 parameters, once psycopg prepares
    # it, was planned without the unique index (46 ms a chunk, growing with the table).
    wanted = (tasks.c.unique_id == any_(bindparam("u", type_=ARRAY(String))) if postgres
              else tasks.c.unique_id.in_(bindparam("u", expanding=True)))
    return (select(tasks.c.unique_id)
            .where(tasks.c.customer_id == bindparam("c"), tasks.c.is_test == bindparam("t"), wanted))


_EXISTING = {postgres: _existing_statement(postgres) for postgres in (False, True)}


def _insert_sql(dialect: str) -> str:
    marks = ", ".join(["?"] * len(_COLUMNS)) if dialect == "sqlite" else ", ".join(["%s"] * len(_COLUMNS))
    return (f"INSERT INTO tasks ({', '.join(_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (customer_id, is_test, unique_id) DO NOTHING")


def prepare(conn: Connection) -> None:
    """A bigger page cache for this (the import's own) connection: a batch touches pages of ten
    indexes, and with SQLite's default 2 MB they keep falling out (1.7x faster at 64 MB,
    bench/README.md). PostgreSQL sizes its cache server-side."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size=-65536")


def existing_unique_ids(conn: Connection, customer_id: int, is_test: bool, wanted: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start:start + 500]
        statement = _EXISTING[conn.dialect.name == "postgresql"]
        found.update(conn.execute(statement, {"c": customer_id, "t": is_test, "u": chunk}).scalars())
    return found


class Importer:
    def __init__(self, db: Database, *, customer_id: int, is_test: bool,
                 default_type: TaskType | None = None, project: str | None = None,
                 batch: str | None = None, batch_size: int = DEFAULT_BATCH, strict: bool = False,
                 dry_run: bool = False, clock: Callable[[], int] = now_ms) -> None:
        self.db = db
        self.customer_id = customer_id
        self.is_test = is_test
        self.default_type = default_type
        self.defaults = {k: v for k, v in (("project", project), ("batch", batch)) if v is not None}
        self.batch_size = max(1, batch_size)
        self.strict = strict
        self.dry_run = dry_run
        self.clock = clock
        self.sql = _insert_sql(db.dialect)
        self._json = (lambda v: orjson.dumps(v).decode())
        self._flag: Any = int(is_test) if db.is_sqlite else is_test
        self._seen: set[str] = set()

    def row_of(self, data: dict[str, Any], now: int) -> tuple[tuple[Any, ...], str | None]:
        """The INSERT's parameters for one valid body; raises the API's InvalidParameter."""
        task_type = type_named(data["type"]) if "type" in data else self.default_type
        if task_type is None:
            raise InvalidParameter("type", "is required (a type field or --type)")
        for name, value in self.defaults.items():
            data.setdefault(name, value)
        params = task_type.parse(data)
        row = (ids.new_task_id(), self.customer_id, self._flag, task_type.name, _PENDING,
               params.urgency, _PRIORITY[params.urgency], params.instruction, params.callback_url,
               self._json(params.task_params()), self._json(params.metadata), now,
               params.project, params.batch, params.unique_id)
        return row, params.unique_id

    def write(self, batch: Batch, report: Report) -> None:
        if not batch.rows:
            return
        if self.dry_run:
            # Only reads (which unique_ids exist): never takes SQLite's write lock.
            with self.db.read() as conn:
                there = existing_unique_ids(conn, self.customer_id, self.is_test,
                                            [u for _, u in batch.unique_ids])
            existing = sum(1 for _, u in batch.unique_ids if u in there)
            report.existing += existing
            report.created += len(batch.rows) - existing
            return
        # In id order: ids of one second share their prefix, so the batch lands on neighbouring
        # pages of the primary key's index (~15% less CPU, bench/README.md).
        rows = sorted(batch.rows)
        with self.db.write() as conn:
            prepare(conn)
            # A row whose unique_id the customer already has is skipped by ON CONFLICT, and
            # rowcount says how many went in (the statement's own rows, not the triggers').
            created = conn.exec_driver_sql(self.sql, rows).rowcount
            if self.is_test and created:
                pg_wakeups.notify(conn, signals.TEST_TASK_CREATED)
        report.created += created
        report.existing += len(rows) - created

    def run(self, items: Iterable[Record], progress: Callable[[int, Report], None] | None = None) -> Report:
        report = Report(dry_run=self.dry_run)
        started = time.perf_counter()
        batch = Batch()
        now = self.clock()
        for number, read, item in items:
            report.lines += 1
            try:
                if isinstance(item, TaskforceError):
                    raise item
                row, unique_id = self.row_of(item, now)
                if unique_id is not None:
                    if unique_id in self._seen:
                        raise InvalidParameter(
                            "unique_id", f"a task with unique_id {unique_id!r} already exists "
                            "(an earlier line of this file)")
                    self._seen.add(unique_id)
                    batch.unique_ids.append((len(batch.rows), unique_id))
            except TaskforceError as exc:
                report.bad.append((number, exc.message))
                if self.strict:
                    break
                continue
            batch.rows.append(row)
            if len(batch.rows) >= self.batch_size:
                self.write(batch, report)
                batch = Batch()
                now = self.clock()
                if progress is not None:
                    report.seconds = time.perf_counter() - started
                    progress(read, report)
        self.write(batch, report)
        report.seconds = time.perf_counter() - started
        return report


def validate_all(items: Iterable[Record], importer: Importer) -> list[tuple[int, str]]:
    """Every bad line, without writing (``--strict`` checks the whole file before it writes)."""
    bad: list[tuple[int, str]] = []
    seen: set[str] = set()
    now = importer.clock()
    for number, _read, item in items:
        try:
            if isinstance(item, TaskforceError):
                raise item
            _row, unique_id = importer.row_of(item, now)
            if unique_id is not None:
                if unique_id in seen:
                    raise InvalidParameter(
                        "unique_id", f"a task with unique_id {unique_id!r} already exists "
                        "(an earlier line of this file)")
                seen.add(unique_id)
        except TaskforceError as exc:
            bad.append((number, exc.message))
    return bad
