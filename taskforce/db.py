"""Engine and units of work, for SQLite and PostgreSQL alike.

Queries use SQLAlchemy Core on a ``Connection``: one ``with db.write()`` block is one transaction,
committed when the block ends. Services take the connection and never commit themselves.

A lost database connection is not fatal. The pool pings a connection before handing it out
(``pool_pre_ping``) and replaces a dead one; a disconnect while starting a unit of work is retried
once; ``run_write``/``run_read`` re-run the whole unit of work once when the connection dies
before COMMIT was sent (the transaction was rolled back by the server, so running it again cannot
apply it twice). A disconnect that is not retried surfaces as ``DatabaseUnavailable`` (HTTP 503,
JSON like every API error) and the pool throws the broken connection away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, RootTransaction, make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from taskforce.errors import TaskforceError
from taskforce.signals import Signals

if TYPE_CHECKING:
    from taskforce.config import Settings

log = logging.getLogger(__name__)

_IMMEDIATE = "taskforce_immediate"
_AFTER_COMMIT = "taskforce_after_commit"
T = TypeVar("T")


class DatabaseUnavailable(TaskforceError):
    """The database connection was lost and the work could not safely be retried."""

    status_code = 503

    def __init__(self, message: str = "the database is unavailable; retry shortly") -> None:
        super().__init__(message)


class CommitOutcomeUnknown(DatabaseUnavailable):
    """The connection died during COMMIT: the change may or may not be saved, so never re-run."""

    def __init__(self) -> None:
        super().__init__("the database connection was lost while saving; the change may or may "
                         "not have been saved")


def is_disconnect(exc: BaseException) -> bool:
    """Whether SQLAlchemy recognised ``exc`` as a lost connection (it then invalidates it)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


#: JSON columns (params, metadata, response) through orjson: a list page decodes 300 JSON values,
#: and the standard library's json took about half of the page's time (bench/README.md).
_JSON = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def _make_engine(url: str, pool_size: int, max_overflow: int, synchronous: str = "NORMAL") -> Engine:
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
            hide_parameters=True,
            **_JSON,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            # Let SQLAlchemy's "begin" event issue BEGIN itself, so writes can say IMMEDIATE.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")  # checked above: a literal
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A write transaction takes the write lock up front: a deferred one that reads and
            # then writes can fail with SQLITE_BUSY instead of waiting for busy_timeout.
            if conn.info.get(_IMMEDIATE):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine

    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # Never put bound values in an error or a log line: they hold lease tokens and emails.
        hide_parameters=True,
        pool_timeout=10,
        pool_pre_ping=True,  # a connection lost while idle is replaced, not fatal
        pool_recycle=1800,
        # Fail fast when the server is unreachable rather than hanging a request for minutes.
        connect_args={"connect_timeout": 5},
        **_JSON,
    )


class _AfterCommit:
    """What one unit of work does once it has committed, and never if it rolls back."""

    __slots__ = ("topics", "hooks")

    def __init__(self) -> None:
        self.topics: dict[str, None] = {}  # ordered, and each topic once per transaction
        self.hooks: list[Callable[[], None]] = []

    def run(self, signals: Signals) -> None:
        # The transaction is committed: a failing wake-up must not turn it into an error (the
        # loops' polls are the fallback), so each is logged and the rest still run.
        for topic in self.topics:
            try:
                signals.publish(topic)
            except Exception:  # noqa: BLE001
                log.exception("after commit: publishing %s failed", topic)
        for hook in self.hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001
                log.exception("after commit: %r failed", hook)


def _pending(conn: Connection) -> _AfterCommit | None:
    return conn.info.get(_AFTER_COMMIT)


def after_commit(conn: Connection, hook: Callable[[], None]) -> None:
    """Run ``hook()`` once this unit of work (``db.write()``/``db.read()``) has committed; never
    if it rolls back. Outside such a unit of work there is nothing to run it, so it is dropped."""
    pending = _pending(conn)
    if pending is not None:
        pending.hooks.append(hook)


def publish_after_commit(conn: Connection, topic: str) -> None:
    """Publish ``topic`` on the database's in-process ``Signals`` once this unit of work has
    committed (once per transaction however often it is asked); never if it rolls back."""
    pending = _pending(conn)
    if pending is not None:
        pending.topics[topic] = None


class Database:
    """The one shared state of Taskforce: an engine plus read and write units of work."""

    def __init__(self, url: str, pool_size: int = 8, max_overflow: int | None = None,
                 synchronous: str = "NORMAL") -> None:
        self.url = url
        self.engine = _make_engine(url, pool_size, pool_size if max_overflow is None else max_overflow,
                                   synchronous)
        self.dialect = self.engine.dialect.name
        #: In-process wake-ups: what a unit of work owes (a callback, a test task to answer) is
        #: published here after it commits (``publish_after_commit``); the app's loops listen.
        self.signals = Signals()

    @classmethod
    def for_settings(cls, settings: Settings) -> Database:
        """The engine sized by the settings (per process; see ``taskforce serve --workers``)."""
        return cls(settings.database_url, pool_size=settings.database_pool_size,
                   max_overflow=settings.database_max_overflow,
                   synchronous=settings.sqlite_synchronous)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _begin(self, write: bool) -> tuple[Connection, RootTransaction]:
        """A connection with its transaction begun; a lost connection here is retried once."""
        for attempt in (1, 2):
            try:
                conn = self.engine.connect()
            except OperationalError as exc:
                # PostgreSQL refused or dropped the (re)connect, e.g. during a failover.
                if self.is_sqlite:
                    raise
                if attempt == 2:
                    raise DatabaseUnavailable() from exc
                log.warning("could not connect to the database; retrying once")
                time.sleep(0.2)
                continue
            try:
                if write:
                    conn.info[_IMMEDIATE] = True
                return conn, conn.begin()
            except DBAPIError as exc:
                conn.info.pop(_IMMEDIATE, None)
                conn.close()
                if not is_disconnect(exc):
                    raise
                if attempt == 2:
                    raise DatabaseUnavailable() from exc
                log.warning("database connection lost while starting a transaction; retrying once")
        raise AssertionError("unreachable")

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        conn, trans = self._begin(write)
        pending = conn.info[_AFTER_COMMIT] = _AfterCommit()
        try:
            try:
                yield conn
            except BaseException as exc:
                if trans.is_active:
                    try:
                        trans.rollback()
                    except DBAPIError:
                        pass  # the connection is already gone; the server rolled back
                if is_disconnect(exc):
                    raise DatabaseUnavailable() from exc
                raise
            try:
                trans.commit()
            except DBAPIError as exc:
                if is_disconnect(exc):
                    raise CommitOutcomeUnknown() from exc
                raise
        finally:
            # Reading ``info`` of an invalidated connection would reconnect (and, while the
            # server is down, replace the 503 with the reconnect's error); a dead connection's
            # info is discarded with it anyway.
            if not conn.invalidated:
                conn.info.pop(_IMMEDIATE, None)
                conn.info.pop(_AFTER_COMMIT, None)
            conn.close()
        pending.run(self.signals)  # reached only once COMMIT succeeded

    def write(self):
        """``with db.write() as conn``: one write transaction (BEGIN IMMEDIATE on SQLite)."""
        return self._transaction(True)

    def read(self):
        """``with db.read() as conn``: one read transaction; never blocks writers under WAL."""
        return self._transaction(False)

    def _run(self, write: bool, work: Callable[[Connection], T]) -> T:
        for attempt in (1, 2):
            try:
                with self._transaction(write) as conn:
                    return work(conn)
            except CommitOutcomeUnknown:
                raise
            except DatabaseUnavailable:
                if attempt == 2:
                    raise
                log.warning("database connection lost during a unit of work; running it again")
        raise AssertionError("unreachable")

    def run_write(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` in a write transaction, run again once if the connection is lost
        before COMMIT. ``work`` must have no effects outside the database."""
        return self._run(True, work)

    def run_read(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` in a read transaction, run again once if the connection is lost."""
        return self._run(False, work)

    def dispose(self) -> None:
        self.engine.dispose()
