"""`taskforce tasks export` on both backends: the task objects exactly as the API returns them,
oldest first, every task once across pages (ties in created_at included), the filters, CSV, and
memory that does not grow with the number of tasks."""

from __future__ import annotations

import csv
import io
import tracemalloc

import orjson
import pytest
from typer.testing import CliRunner

from taskforce import bulk_export, bulk_import
from taskforce.cli import app as cli_app
from taskforce.clock import format_ms
from taskforce.tasks import service

from tests.factories import VALID_PARAMS


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("TASKFORCE_DATABASE_URL", database_url)
    monkeypatch.setenv("TASKFORCE_SECRET_KEY", "cli-test")

    def run(*args: str):
        return CliRunner().invoke(cli_app, [str(a) for a in args], catch_exceptions=False)

    return run


def test_export_streams_the_api_objects_oldest_first(cli, db, factory, client, monkeypatch, tmp_path):
    monkeypatch.setattr(bulk_export, "PAGE", 3)  # many pages, and ties across page ends
    customer, other = factory.customer(), factory.customer()
    made = [factory.task(customer, now=1_000_000 + (i // 4)) for i in range(10)]  # 4 per ms
    factory.task(other)
    factory.task(customer, is_test=True)
    out = tmp_path / "out.jsonl"
    r = cli("tasks", "export", "--customer", customer.name, "--output", out)
    assert r.exit_code == 0, r.output
    assert "exported 10 tasks" in r.stderr
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    expected = sorted(made, key=lambda t: (t["created_at"], t["id"]))
    assert [t["task_id"] for t in lines] == [t["id"] for t in expected]
    for obj in lines:
        assert obj == client.get(f"/v1/task/{obj['task_id']}", auth=customer.live_auth).json()
    # To stdout as well, so it pipes.
    r = cli("tasks", "export", "--customer", customer.id, "--test")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 1


def test_filters_and_csv(cli, db, factory, tmp_path):
    customer = factory.customer()
    old = factory.task(customer, now=1_000_000_000_000, project="p")
    new = [factory.task(customer, now=1_700_000_000_000 + i, type_name=t)
           for i, t in enumerate(VALID_PARAMS)]
    with db.write() as conn:
        service.cancel(conn, new[0]["id"], customer_id=customer.id, is_test=False)
    r = cli("tasks", "export", "--customer", customer.name, "--status", "canceled")
    assert [orjson.loads(x)["task_id"] for x in r.stdout.splitlines()] == [new[0]["id"]]
    r = cli("tasks", "export", "--customer", customer.name, "--since", format_ms(1_700_000_000_001))
    assert [orjson.loads(x)["task_id"] for x in r.stdout.splitlines()] == [t["id"] for t in new[1:]]
    r = cli("tasks", "export", "--customer", customer.name, "--format", "csv")
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["task_id"] for row in rows] == [old["id"]] + [t["id"] for t in new]
    assert rows[0]["project"] == "p" and orjson.loads(rows[0]["params"])["categories"] == ["public", "private"]
    assert rows[1]["status"] == "canceled" and rows[1]["response"] == ""
    assert cli("tasks", "export", "--customer", customer.name, "--format", "xml").exit_code == 1
    r = cli("tasks", "export", "--customer", customer.name, "--since", "yesterday")
    assert r.exit_code == 1 and r.stderr.startswith("--since must be an ISO 8601")
    r = cli("tasks", "export", "--customer", customer.name, "--status", "done")
    assert r.exit_code == 1 and "--status must be one of" in r.stderr


def _seed(db, customer_id: int, n: int) -> None:
    importer = bulk_import.Importer(db, customer_id=customer_id, is_test=False,
                                    default_type=bulk_import.type_named("categorize"), batch_size=5000)
    body = orjson.dumps(VALID_PARAMS["categorization"])
    report = importer.run((i, 0, orjson.loads(body)) for i in range(n))
    assert report.created == n


def _peak_bytes(db, customer_id: int) -> int:
    f = bulk_export.ExportFilter(customer_id=customer_id, is_test=False)
    sink = io.BytesIO()
    tracemalloc.start()
    try:
        for page in bulk_export.task_pages(db, f):
            sink.write(bulk_export.jsonl_lines(page))
            sink.seek(0)
            sink.truncate()  # a file or pipe keeps nothing either
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_tasks(db, factory, monkeypatch):
    monkeypatch.setattr(bulk_export, "PAGE", 500)
    small, large = factory.customer(), factory.customer()
    _seed(db, small.id, 1_000)
    _seed(db, large.id, 20_000)
    _peak_bytes(db, small.id)  # warm the statement caches
    peak_small, peak_large = _peak_bytes(db, small.id), _peak_bytes(db, large.id)
    assert peak_large < 1.5 * peak_small, (peak_small, peak_large)
