"""The CLI as an operator uses it (customers create, keys create --live/--test, keys revoke),
on the same database the API serves, on both backends: a key the CLI prints works at once, is
stored only as a hash, and is refused (401) as soon as it is revoked."""

from __future__ import annotations

import re

from sqlalchemy import select
from typer.testing import CliRunner

from taskforce import cli, ids
from taskforce.models import api_keys
from tests.factories import VALID_PARAMS


def _run(database_url: str, *args: str):
    result = CliRunner().invoke(cli.app, list(args), env={"TASKFORCE_DATABASE_URL": database_url,
                                                           "TASKFORCE_SECRET_KEY": "test-secret"})
    return result


def test_customer_and_keys_through_the_cli(client, db, database_url):
    made = _run(database_url, "customers", "create", "Acme Corp")
    assert made.exit_code == 0, made.output
    assert re.search(r"customer \d+: Acme Corp", made.output)

    live = _run(database_url, "keys", "create", "Acme Corp", "--live")
    test = _run(database_url, "keys", "create", "Acme Corp", "--test")
    assert live.exit_code == 0 and test.exit_code == 0, (live.output, test.output)
    live_key, test_key = live.output.strip(), test.output.strip()
    assert re.fullmatch(r"live_[0-9a-f]{40}", live_key) and re.fullmatch(r"test_[0-9a-f]{40}", test_key)

    # Exactly one of --live / --test.
    assert _run(database_url, "keys", "create", "Acme Corp").exit_code != 0
    assert _run(database_url, "keys", "create", "Acme Corp", "--live", "--test").exit_code != 0
    assert _run(database_url, "keys", "create", "No Such Customer", "--live").exit_code != 0

    # Stored only as a hash: no column holds the key.
    with db.read() as conn:
        rows = [dict(r) for r in conn.execute(select(api_keys)).mappings()]
    assert {r["key_hash"] for r in rows} == {ids.hash_api_key(live_key), ids.hash_api_key(test_key)}
    assert not any(live_key in str(v) or test_key in str(v) for r in rows for v in r.values())

    # Both keys work at once; test mode and live mode keep their own tasks.
    made_live = client.post("/v1/task/categorize", json=VALID_PARAMS["categorization"], auth=(live_key, ""))
    made_test = client.post("/v1/task/categorize", json=VALID_PARAMS["categorization"], auth=(test_key, ""))
    assert made_live.status_code == made_test.status_code == 200
    assert [d["task_id"] for d in client.get("/v1/tasks", auth=(live_key, "")).json()["docs"]] == \
        [made_live.json()["task_id"]]
    assert [d["task_id"] for d in client.get("/v1/tasks", auth=(test_key, "")).json()["docs"]] == \
        [made_test.json()["task_id"]]

    # Revoke by the prefix (the first 13 characters); the key is refused from the next request.
    revoked = _run(database_url, "keys", "revoke", live_key[:13])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.output
    r = client.get("/v1/tasks", auth=(live_key, ""))
    assert r.status_code == 401 and r.json() == {"status_code": 401, "error": "this API key has been revoked"}
    r = client.post("/v1/task/categorize", json=VALID_PARAMS["categorization"], auth=(live_key, ""))
    assert r.status_code == 401
    assert client.get(f"/v1/task/{made_live.json()['task_id']}", auth=(live_key, "")).status_code == 401
    # The other key is untouched; revoking again says there is nothing to revoke.
    assert client.get("/v1/tasks", auth=(test_key, "")).status_code == 200
    again = _run(database_url, "keys", "revoke", live_key[:13])
    assert again.exit_code == 1
    # A new live key for the same customer still sees the live task.
    fresh = _run(database_url, "keys", "create", "Acme Corp", "--live").output.strip()
    assert client.get(f"/v1/task/{made_live.json()['task_id']}", auth=(fresh, "")).status_code == 200


def test_keys_create_with_a_name(db, database_url):
    assert _run(database_url, "customers", "create", "Named Corp").exit_code == 0
    made = _run(database_url, "keys", "create", "Named Corp", "--test", "--name", " nightly import ")
    assert made.exit_code == 0, made.output
    with db.read() as conn:
        assert conn.execute(select(api_keys.c.name).where(api_keys.c.prefix == made.output.strip()[:13])
                            ).scalar_one() == "nightly import"
    refused = _run(database_url, "keys", "create", "Named Corp", "--test", "--name", "n" * 101)
    assert refused.exit_code == 1
    assert refused.output.strip() == "--name: must be at most 100 characters"  # one line
