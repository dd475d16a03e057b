"""The CLI as an operator uses it (customers create, keys create --live/--test, keys revoke),
on the same database the API serves, on both backends: a key the CLI prints works at once, is
stored only as a hash, and is refused (401) as soon as it is revoked."""

from __future__ import annotations

import re

from sqlalchemy import select
from typer.testing import CliRunner

from taskforce import cli, ids
from taskforce.models import api_keys, customers
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


def test_keys_list_shows_prefixes_never_keys(client, db, database_url):
    assert _run(database_url, "customers", "create", "Listed Corp").exit_code == 0
    live = _run(database_url, "keys", "create", "Listed Corp", "--live", "--name", "prod <api>").output.strip()
    test = _run(database_url, "keys", "create", "Listed Corp", "--test").output.strip()
    old = _run(database_url, "keys", "create", "Listed Corp", "--live").output.strip()
    assert _run(database_url, "keys", "revoke", old[:13]).exit_code == 0
    assert client.get("/v1/tasks", auth=(live, "")).status_code == 200  # stamps last_used_at

    listed = _run(database_url, "keys", "list", "Listed Corp")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split()[:2] == ["PREFIX", "MODE"] and len(lines) == 4
    for key in (live, test, old):
        assert key not in listed.output and key[-4:] + "\n" not in listed.output
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {live[:13], test[:13], old[:13]}
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(rf"{live[:13]}\s+live\s+{stamp}\s+{stamp}\s+no\s+prod <api>", rows[live[:13]])
    assert re.fullmatch(rf"{test[:13]}\s+test\s+{stamp}\s+never\s+no", rows[test[:13]].rstrip())
    assert re.fullmatch(rf"{old[:13]}\s+live\s+{stamp}\s+never\s+{stamp}", rows[old[:13]].rstrip())
    assert lines[-1].startswith(old[:13])  # revoked keys last

    only_test = _run(database_url, "keys", "list", "Listed Corp", "--mode", "test")
    assert [line.split()[0] for line in only_test.output.splitlines()[1:]] == [test[:13]]
    # By id too; a customer without keys says so.
    with db.read() as conn:
        cid = conn.execute(select(customers.c.id).where(customers.c.name == "Listed Corp")).scalar_one()
    assert _run(database_url, "keys", "list", str(cid)).output == listed.output
    assert _run(database_url, "customers", "create", "Empty Corp").exit_code == 0
    empty = _run(database_url, "keys", "list", "Empty Corp")
    assert empty.exit_code == 0 and empty.output.strip() == "Empty Corp has no API keys"


def test_keys_list_refuses_bad_input_in_one_line(database_url):
    assert _run(database_url, "customers", "create", "Some Corp").exit_code == 0
    for args, message in ((["No Such Corp"], "error: no customer 'No Such Corp'"),
                          (["Some Corp", "--mode", "staging"], "--mode: must be live or test, not 'staging'")):
        refused = _run(database_url, "keys", "list", *args)
        assert refused.exit_code == 1, refused.output
        assert refused.output.strip() == message  # one line, no traceback
    missing = _run(database_url, "keys", "list")
    assert missing.exit_code != 0 and "Traceback" not in missing.output
