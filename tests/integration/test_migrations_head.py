"""`upgrade head` on a blank database leaves no difference from taskforce.models.metadata
(Alembic's autogenerate comparison finds nothing), on SQLite and on PostgreSQL, and a second
upgrade is a no-op. This is what keeps models.py and the migrations identical in effect."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from taskforce import migrate
from taskforce.models import metadata
from tests.conftest import PG_ADMIN_URL, REQUIRE_PG, _pg_available


@pytest.fixture(params=["sqlite", "postgres"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    reason = _pg_available()
    if reason:
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"taskforce_migrate_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "render_as_batch": conn.dialect.name == "sqlite"})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_upgrade_head_matches_the_models(blank_url):
    engine = create_engine(blank_url)
    assert inspect(engine).get_table_names() == []  # really blank
    engine.dispose()
    migrate.upgrade(blank_url)
    assert _differences(blank_url) == []
    engine = create_engine(blank_url)
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert tables == set(metadata.tables) | {"alembic_version"}
    migrate.upgrade(blank_url)  # at head already: nothing to do, nothing breaks
    assert _differences(blank_url) == []
    engine = create_engine(blank_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == version
    engine.dispose()


def test_the_cli_migrate_command(blank_url):
    from typer.testing import CliRunner

    from taskforce import cli

    result = CliRunner().invoke(cli.app, ["migrate"], env={"TASKFORCE_DATABASE_URL": blank_url,
                                                           "TASKFORCE_SECRET_KEY": "x"})
    assert result.exit_code == 0, result.output
    assert "database at head" in result.output
    assert _differences(blank_url) == []


def test_a_database_made_by_the_first_release_upgrades_with_its_data(blank_url):
    """0001 was the first schema shipped; every later migration must carry its rows forward."""
    from taskforce import customers as customer_service
    from taskforce.db import Database
    from taskforce.task_types import REGISTRY
    from taskforce.tasks import queries, service
    from tests.factories import VALID_PARAMS

    migrate.upgrade(blank_url, "0001")
    task_type = REGISTRY.get("categorization")
    db = Database(blank_url)
    try:
        with db.write() as conn:
            customer_id = customer_service.create_customer(conn, "early")
            for project in ("p1", None):
                service.create(conn, customer_id=customer_id, is_test=False, task_type=task_type,
                               params=task_type.parse({**VALID_PARAMS["categorization"], "project": project}))
        migrate.upgrade(blank_url)
        assert _differences(blank_url) == []
        with db.read() as conn:
            page = queries.list_page(conn, queries.TaskFilter(customer_id=customer_id, is_test=False,
                                                              project="p1"))
        assert page.total == 1 and [r["project"] for r in page.rows] == ["p1"]
    finally:
        db.dispose()
