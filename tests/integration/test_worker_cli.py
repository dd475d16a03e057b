"""`taskforce workers …` against a real database (both backends)."""

from __future__ import annotations

from typer.testing import CliRunner

from taskforce import accounts
from taskforce.cli import app
from taskforce.tasks import service


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_workers_commands(database_url, db, factory, monkeypatch):
    monkeypatch.setenv("TASKFORCE_DATABASE_URL", database_url)
    monkeypatch.setenv("TASKFORCE_SECRET_KEY", "cli-test")
    r = run("workers", "create", "Ann@Example.test", "--password", "long enough")
    assert r.exit_code == 0 and "ann@example.test" in r.output
    assert run("workers", "create", "ann@example.test", "--password", "long enough").exit_code == 1
    assert run("workers", "create", "bob@example.test", "--password", "short").exit_code == 1

    factory.task(factory.customer())
    with db.write() as conn:
        ann = accounts.find_by_email(conn, "ann@example.test")
        lease = service.claim(conn, ann["id"], lease_seconds=600)
    r = run("workers", "deactivate", "ann@example.test")
    assert r.exit_code == 0 and "released 1 task" in r.output
    with db.read() as conn:
        assert not accounts.get_user(conn, ann["id"])["active"]
        assert service.current_lease(conn, ann["id"]) is None
    assert "deactivated" in run("workers", "list").output
    assert run("workers", "reset-password", "ann@example.test", "--password", "a new password").exit_code == 0
    assert run("workers", "reactivate", "ann@example.test").exit_code == 0
    with db.write() as conn:
        assert accounts.verify_login(conn, "ann@example.test", "a new password") is not None
    operator = factory.user("operator")
    assert run("workers", "deactivate", operator["email"]).exit_code == 1
    assert run("workers", "deactivate", "nobody@example.test").exit_code == 1
    assert lease.task_id
