"""/healthz answers while the process runs; /readyz answers 200 only when the database answers
and its schema is at the migrations' head, else 503 with the reason."""

from __future__ import annotations

from sqlalchemy import text
from starlette.testclient import TestClient

from taskforce.app import create_app
from taskforce.config import Settings
from taskforce.db import Database
from taskforce.health import migrations_head


def test_healthy_and_ready(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}


def test_not_ready_when_the_schema_is_behind(client, db):
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "reason":
                        f"database schema at 0001, code expects {migrations_head()}: run taskforce migrate"}
    assert client.get("/healthz").status_code == 200  # the process itself is fine


def test_not_ready_when_the_database_is_unreachable():
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    db = Database(url, pool_size=1)
    settings = Settings(database_url=url, secret_key="s", run_dispatcher=False)
    with TestClient(create_app(settings, db)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "reason": "database unavailable"}
        assert client.get("/healthz").status_code == 200
    db.dispose()


def test_not_ready_on_an_unmigrated_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    db = Database(url, pool_size=1)
    settings = Settings(database_url=url, secret_key="s", run_dispatcher=False)
    with TestClient(create_app(settings, db)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["reason"] == (f"database schema at none, code expects {migrations_head()}: "
                                      "run taskforce migrate")
    db.dispose()
