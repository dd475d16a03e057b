"""`taskforce tasks import` on both backends: the API's validation and messages with line numbers,
the tasks exactly as the API would have made them, JSON Lines and CSV, --strict, --dry-run,
--project/--batch, and re-running a half-done import creating nothing twice."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from taskforce.cli import app as cli_app
from taskforce.models import task_counts, tasks

from tests.factories import VALID_PARAMS


@pytest.fixture
def cli(database_url, monkeypatch):
    monkeypatch.setenv("TASKFORCE_DATABASE_URL", database_url)
    monkeypatch.setenv("TASKFORCE_SECRET_KEY", "cli-test")

    def run(*args: str):
        return CliRunner().invoke(cli_app, [str(a) for a in args], catch_exceptions=False)

    return run


def jsonl(path: Path, bodies: list) -> Path:
    path.write_bytes(b"".join((b if isinstance(b, bytes) else orjson.dumps(b)) + b"\n" for b in bodies))
    return path


def count(db, **where) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(tasks)
                            .where(*[tasks.c[k] == v for k, v in where.items()])).scalar_one()


def test_import_validates_like_the_api_and_names_the_lines(cli, db, factory, client, tmp_path):
    customer = factory.customer()
    good = {**VALID_PARAMS["categorization"], "type": "categorize", "metadata": {"n": 1},
            "urgency": "immediate", "project": "p1"}
    missing = {k: v for k, v in VALID_PARAMS["categorization"].items() if k != "callback_url"}
    bad_url = {**VALID_PARAMS["transcription"], "callback_url": "javascript:alert(1)"}
    path = jsonl(tmp_path / "t.jsonl", [
        good,
        {**missing, "type": "categorize"},
        b"{not json",
        {**VALID_PARAMS["phonecall"], "type": "phonecall"},
        b"[1, 2]",
        {**bad_url, "type": "transcription"},
        {**VALID_PARAMS["comparison"], "type": "nonsense"},
        b"",
        {**VALID_PARAMS["comparison"], "type": "comparison"},
    ])
    r = cli("tasks", "import", path, "--customer", customer.name)
    assert r.exit_code == 2, r.output  # done, with lines skipped
    # The API's own 400 messages for the same bodies.
    api = {
        2: client.post("/v1/task/categorize", auth=customer.live_auth, json=missing).json()["error"],
        3: client.post("/v1/task/categorize", auth=customer.live_auth, content=b"{not json",
                       headers={"content-type": "application/json"}).json()["error"],
        5: client.post("/v1/task/categorize", auth=customer.live_auth, content=b"[1, 2]",
                       headers={"content-type": "application/json"}).json()["error"],
        6: client.post("/v1/task/transcription", auth=customer.live_auth, json=bad_url).json()["error"],
    }
    for line, message in api.items():
        assert f"line {line}: {message}\n" in r.stderr, (line, message, r.stderr)
    assert "line 7: type: must be one of" in r.stderr
    assert "created 3 tasks" in r.stderr and "5 bad lines skipped" in r.stderr
    assert count(db, customer_id=customer.id) == 3

    # Each imported task is what the API returns for the same body.
    made = client.post("/v1/task/categorize", auth=customer.live_auth,
                       json={k: v for k, v in good.items() if k != "type"}).json()
    listed = client.get("/v1/tasks?type=categorization", auth=customer.live_auth).json()["docs"]
    imported = next(t for t in listed if t["task_id"] != made["task_id"])
    for key in ("task_id", "created_at", "updated_at"):
        imported.pop(key), made.pop(key)
    assert imported == made
    # The list's totals (task_counts, kept by the triggers) include the imported tasks.
    assert client.get("/v1/tasks", auth=customer.live_auth).json()["total"] == 4


def test_rerunning_a_half_done_import_creates_nothing_twice(cli, db, factory, tmp_path):
    customer = factory.customer()
    bodies = [{**VALID_PARAMS["categorization"], "unique_id": f"row-{i}"} for i in range(25)]
    half = jsonl(tmp_path / "half.jsonl", bodies[:10])
    whole = jsonl(tmp_path / "whole.jsonl", bodies)
    assert cli("tasks", "import", half, "--customer", customer.id, "--type", "categorize",
               "--batch-size", "4").exit_code == 0
    r = cli("tasks", "import", whole, "--customer", customer.id, "--type", "categorize",
            "--batch-size", "4")
    assert r.exit_code == 0, r.output
    assert "created 15 tasks" in r.stderr and "10 already there" in r.stderr
    r = cli("tasks", "import", whole, "--customer", customer.id, "--type", "categorize")
    assert "created 0 tasks" in r.stderr and "25 already there" in r.stderr
    r = cli("tasks", "import", whole, "--customer", customer.id, "--type", "categorize", "--dry-run")
    assert "would create 0 tasks" in r.stderr and "25 already there" in r.stderr
    assert count(db, customer_id=customer.id) == 25
    with db.read() as conn:
        assert sorted(conn.execute(select(tasks.c.unique_id)).scalars()) == sorted(b["unique_id"] for b in bodies)
        total = conn.execute(select(func.sum(task_counts.c.n))
                             .where(task_counts.c.customer_id == customer.id)).scalar()
    assert total == 25
    # The same unique_id twice in one file is the API's conflict; the test mode is separate.
    dup = jsonl(tmp_path / "dup.jsonl", [{**bodies[0], "unique_id": "x"}, {**bodies[1], "unique_id": "x"}])
    r = cli("tasks", "import", dup, "--customer", customer.id, "--type", "categorize", "--test")
    assert "line 2: unique_id: a task with unique_id 'x' already exists" in r.stderr
    assert count(db, customer_id=customer.id, is_test=True) == 1


def test_strict_writes_nothing_and_dry_run_writes_nothing(cli, db, factory, tmp_path):
    customer = factory.customer()
    bodies = [VALID_PARAMS["categorization"]] * 5 + [{"instruction": "no url"}]
    path = jsonl(tmp_path / "t.jsonl", bodies)
    r = cli("tasks", "import", path, "--customer", customer.name, "--type", "categorize",
            "--strict", "--batch-size", "2")
    assert r.exit_code == 1
    assert "line 6: callback_url: is required" in r.stderr and "nothing imported" in r.stderr
    assert count(db, customer_id=customer.id) == 0
    r = cli("tasks", "import", path, "--customer", customer.name, "--type", "categorize", "--dry-run")
    assert r.exit_code == 2 and "would create 5 tasks" in r.stderr
    assert count(db, customer_id=customer.id) == 0


def test_csv_with_form_style_columns_and_project_batch_defaults(cli, db, factory, client, tmp_path):
    customer = factory.customer()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["type", "callback_url", "instruction", "attachment_type", "attachment",
                     "categories", "categories", "fields", "metadata", "batch"])
    writer.writerow(["categorize", "http://www.example.com/cb", "Big or small?", "text", "T-Rex",
                     "big", "small", "", '{"k": [1, 2]}', "own"])
    writer.writerow(["transcription", "http://www.example.com/cb", "Copy it", "website",
                     "http://www.reddit.com/", "", "", '{"title": "Title"}', "", ""])
    writer.writerow(["categorize", "http://www.example.com/cb", "", "text", "x", "a", "", "", "", ""])
    path = tmp_path / "t.csv"
    path.write_text("\ufeff" + out.getvalue())  # as a spreadsheet saves it
    r = cli("tasks", "import", path, "--customer", customer.name, "--project", "P", "--batch", "B")
    assert r.exit_code == 2, r.output
    assert "line 4: instruction: is required" in r.stderr
    docs = {t["type"]: t for t in client.get("/v1/tasks", auth=customer.live_auth).json()["docs"]}
    cat = docs["categorization"]
    assert cat["params"]["categories"] == ["big", "small"] and cat["metadata"] == {"k": [1, 2]}
    assert cat["project"] == "P" and cat["batch"] == "own"
    assert docs["transcription"]["params"]["fields"] == {"title": "Title"}
    assert docs["transcription"]["batch"] == "B"


def test_refusals_are_one_line(cli, factory, tmp_path):
    customer = factory.customer()
    r = cli("tasks", "import", tmp_path / "none.jsonl", "--customer", customer.name)
    assert r.exit_code == 1 and r.stderr.strip().startswith("cannot read") and "\n" not in r.stderr.strip()
    path = jsonl(tmp_path / "t.txt", [VALID_PARAMS["categorization"]])
    r = cli("tasks", "import", path, "--customer", customer.name)
    assert r.exit_code == 1 and "say --format jsonl or --format csv" in r.stderr
    path = jsonl(tmp_path / "t.jsonl", [VALID_PARAMS["categorization"]])
    r = cli("tasks", "import", path, "--customer", "nobody-at-all")
    assert r.exit_code == 1 and r.stderr.strip() == "no customer 'nobody-at-all'"
    r = cli("tasks", "import", path, "--customer", customer.name, "--type", "bogus")
    assert r.exit_code == 1 and r.stderr.strip().startswith("type: must be one of")
