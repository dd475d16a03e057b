"""Engine and units of work, for SQLite and PostgreSQL alike.

Queries use SQLAlchemy Core on a ``Connection``: one ``with db.write()`` block is one transaction,
committed when the block ends. Services take the connection and never commit themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url

_IMMEDIATE = "taskforce_immediate"


def _make_engine(url: str, pool_size: int) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            # Let SQLAlchemy's "begin" event issue BEGIN itself, so writes can say IMMEDIATE.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
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
        max_overflow=pool_size,
        pool_pre_ping=True,  # a connection lost while idle is replaced, not fatal
        pool_recycle=1800,
    )


class Database:
    """The one shared state of Taskforce: an engine plus read and write units of work."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        self.url = url
        self.engine = _make_engine(url, pool_size)
        self.dialect = self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.info[_IMMEDIATE] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop(_IMMEDIATE, None)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
