"""A lost database connection is retried, not fatal (db.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from taskforce.config import Settings
from taskforce.db import CommitOutcomeUnknown, Database, DatabaseUnavailable
from taskforce.models import site_settings


def _count(db: Database) -> int:
    return db.run_read(lambda conn: conn.execute(select(func.count()).select_from(site_settings)).scalar_one())


def _kill_own_connection(conn) -> None:
    conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))


def test_units_of_work_commit_and_roll_back(db) -> None:
    db.run_write(lambda conn: conn.execute(insert(site_settings).values(name="a", value={"x": 1})))
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            conn.execute(insert(site_settings).values(name="b", value={}))
            raise RuntimeError("boom")
    assert _count(db) == 1


def test_connections_killed_while_idle_are_replaced(db) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has no server to lose")
    assert _count(db) == 0
    admin = create_engine(db.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # What a PostgreSQL restart or failover does to every pooled connection.
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    admin.dispose()
    assert killed >= 1
    with db.write() as conn:
        conn.execute(insert(site_settings).values(name="after", value={}))
    assert _count(db) == 1


def test_a_unit_of_work_that_loses_its_connection_runs_again_once(db) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has no server to lose")
    calls = []

    def work(conn):
        calls.append(1)
        conn.execute(insert(site_settings).values(name="once", value={}))
        if len(calls) == 1:
            _kill_own_connection(conn)
        return "ok"

    assert db.run_write(work) == "ok"
    assert len(calls) == 2
    assert _count(db) == 1  # the first attempt's insert died with its transaction


def test_a_second_loss_is_reported_not_retried_forever(db) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has no server to lose")
    calls = []

    def work(conn):
        calls.append(1)
        _kill_own_connection(conn)

    with pytest.raises(DatabaseUnavailable) as raised:
        db.run_write(work)
    assert not isinstance(raised.value, CommitOutcomeUnknown)
    assert raised.value.status_code == 503 and len(calls) == 2
    with pytest.raises(DatabaseUnavailable):
        with db.read() as conn:
            _kill_own_connection(conn)
    assert _count(db) == 0  # and the pool serves fresh connections afterwards


def test_api_answers_503_json_when_postgresql_is_unreachable(tmp_path) -> None:
    from starlette.testclient import TestClient

    from taskforce.app import create_app

    # Nothing listens on port 1: the connect is refused at once.
    settings = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/none",
                        secret_key="s", run_dispatcher=False)
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/tasks", auth=("live_" + "a" * 40, ""))
    assert response.status_code == 503
    assert response.json() == {"status_code": 503, "error": "the database is unavailable; retry shortly"}
