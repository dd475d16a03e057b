"""Every CLI error is one clear line and a non-zero exit, never a traceback (issue 13, item 13):
one case per kind of mistake an operator makes, on both backends where a database is involved."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import make_url
from typer.testing import CliRunner

from taskforce import cli


def _run(database_url: str, *args: str, env: dict | None = None, input: str | None = None):
    return CliRunner().invoke(cli.app, list(args), input=input, env={
        "TASKFORCE_DATABASE_URL": database_url, "TASKFORCE_SECRET_KEY": "test-secret", **(env or {})})


def _one_line_error(result, *fragments: str) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught error
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], result.output
    return lines[0]


def test_an_unknown_customer(db, database_url):
    _one_line_error(_run(database_url, "keys", "create", "No Such Customer", "--live"), "No Such Customer")
    _one_line_error(_run(database_url, "users", "invite", "nobody", "a@example.test",
                         "--password", "a-long-password"), "nobody")
    _one_line_error(_run(database_url, "customers", "rotate", "nobody", "--signing-secret"), "nobody")


def test_an_email_already_in_use(db, database_url, factory):
    factory.user("operator", email="op@example.test")
    for command in (["users", "create-operator"], ["workers", "create"]):
        _one_line_error(_run(database_url, *command, "op@example.test", "--password", "a-long-password"),
                        "op@example.test")


def test_create_operator_asks_for_the_password_before_taking_the_write_lock(db, database_url, monkeypatch):
    if not db.is_sqlite:
        pytest.skip("the write lock is SQLite's (PostgreSQL's transaction would only sit idle)")
    path = make_url(database_url).database
    seen = []

    def prompt(*args, **kwargs):
        # Another writer gets in at once: the CLI holds no write transaction while it waits.
        other = sqlite3.connect(path, timeout=0.5)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
            seen.append("free")
        except sqlite3.OperationalError as exc:
            seen.append(str(exc))
        finally:
            other.close()
        return "a-long-password"

    monkeypatch.setattr(cli.typer, "prompt", prompt)
    result = _run(database_url, "users", "create-operator", "new@example.test")
    assert result.exit_code == 0, result.output
    assert seen == ["free"]


@pytest.mark.parametrize("url, fragment", [
    ("nonsense", "database URL"),
    ("nosuchdb://host/x", "database URL"),
    ("postgresql+psycopg://postgres@127.0.0.1:1/none", "database"),  # nothing listens on port 1
])
def test_a_bad_database_url(url, fragment):
    for command in (["customers", "create", "x"], ["migrate"], ["workers", "list"], ["demo"]):
        _one_line_error(_run(url, *command), fragment)


def test_a_database_never_migrated(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    _one_line_error(_run(url, "keys", "create", "x", "--live"), "taskforce migrate")


def test_an_unreadable_file(db, database_url, tmp_path):
    # The secret file is a directory (or unreadable): say which file, not a traceback.
    result = CliRunner().invoke(cli.app, ["workers", "list"], env={
        "TASKFORCE_DATABASE_URL": database_url, "TASKFORCE_SECRET_KEY": "",
        "TASKFORCE_SECRET_FILE": str(tmp_path)})
    _one_line_error(result, str(tmp_path))


def test_a_bad_setting(db, database_url):
    _one_line_error(_run(database_url, "workers", "list", env={"TASKFORCE_DATABASE_POOL_SIZE": "many"}),
                    "TASKFORCE_DATABASE_POOL_SIZE")


def test_a_bad_customer_name_or_reference(db, database_url):
    for name in ("", "   ", "x" * 201):
        _one_line_error(_run(database_url, "customers", "create", name), "name")
    # Digits too long for an id are looked up as a name (SQLite's driver raised on them).
    _one_line_error(_run(database_url, "keys", "create", "9" * 30, "--live"), "no customer")
    _one_line_error(_run(database_url, "customers", "show", "9" * 30), "no customer")


def test_a_database_migrated_by_a_newer_version(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert _run(url, "migrate").exit_code == 0
    with sqlite3.connect(tmp_path / "db.sqlite") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    _one_line_error(_run(url, "migrate"), "9999")


def test_serve_refuses_a_port_out_of_range(tmp_path):
    result = _run(f"sqlite:///{tmp_path / 'db.sqlite'}", "serve", "--port", "99999")
    assert result.exit_code == 2 and "65535" in result.output  # a usage error, before serving
