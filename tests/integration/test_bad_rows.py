"""One bad row never stops work for everyone (issue 13, item 1).

At the door, a JSON value nested too deeply for orjson to write back, or an integer it would
change, is refused with a 400 naming the parameter. Behind it, the background loops set aside a
row they cannot process — logged once, listed for operators — and carry on with the rest. The
bad rows here are written straight into the database, as a row stored before the limit (or by
any other path) would be."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest
from sqlalchemy import select, text, update

from taskforce.callbacks import dispatcher as dispatcher_module
from taskforce.callbacks.dispatcher import Dispatcher, set_aside_deliveries
from taskforce.json_values import MAX_JSON_DEPTH
from taskforce.models import deliveries, tasks
from taskforce.tasks import simulator
from taskforce.tasks.simulator import SimulatedWorker, complete_due

from tests.factories import VALID_PARAMS
from tests.integration.test_callback_helpers import Receiver, completed_test_task, delivery_rows


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def list_nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


# -- at the door ---------------------------------------------------------------------------

def nested_text(depth: int, opener: str = '{"a":', closer: str = "}") -> str:
    """JSON text ``depth`` levels deep, written by hand: encoders stop before 1,000 levels."""
    return opener * (depth - 1) + opener[0] + closer[0] + closer * (depth - 1)


def _create(client, customer, body: dict, **raw_values: str):
    """POST ``body`` as JSON with ``raw_values`` spliced in as JSON text."""
    text = orjson.dumps({**body, **{k: "@" + k for k in raw_values}}).decode()
    for name, value in raw_values.items():
        text = text.replace(f'"@{name}"', value)
    return client.post("/v1/task/categorize", auth=customer.test_auth, content=text.encode(),
                       headers={"content-type": "application/json"})


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 253, 254, 1000])
def test_metadata_nested_too_deeply_is_a_400(client, factory, depth):
    customer = factory.customer()
    r = _create(client, customer, VALID_PARAMS["categorization"], metadata=nested_text(depth))
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith("metadata"), r.text
    assert str(MAX_JSON_DEPTH) in r.json()["error"]
    # The same value as a form's JSON metadata.
    form = {**VALID_PARAMS["categorization"], "metadata": nested_text(depth)}
    r = client.post("/v1/task/categorize", auth=customer.test_auth, data=form)
    assert r.status_code == 400 and r.json()["error"].startswith("metadata"), r.text
    # Nothing stored, and the list still answers.
    listed = client.get("/v1/tasks", auth=customer.test_auth)
    assert listed.status_code == 200 and listed.json()["docs"] == []


def test_metadata_at_the_limit_round_trips(client, factory):
    customer = factory.customer()
    deepest = {"list": list_nested(MAX_JSON_DEPTH - 1), "map": nested(MAX_JSON_DEPTH - 1)}
    r = _create(client, customer, {**VALID_PARAMS["categorization"], "metadata": deepest})
    assert r.status_code == 200, r.text
    assert client.get(f"/v1/task/{r.json()['task_id']}", auth=customer.test_auth).json()["metadata"] == deepest
    assert client.get("/v1/tasks", auth=customer.test_auth).json()["docs"][0]["metadata"] == deepest


def test_every_json_valued_parameter_has_the_depth_limit(client, factory):
    customer = factory.customer()
    for name in ("categories", "category_ids", "allow_multiple", "callback_url"):
        r = _create(client, customer, VALID_PARAMS["categorization"], **{name: nested_text(300, "[", "]")})
        assert r.status_code == 400 and r.json()["error"].startswith(name), (name, r.text)
        assert "levels deep" in r.json()["error"], (name, r.text)


@pytest.mark.parametrize("literal, path", [
    ("100000000000000000000000000", "metadata[n]"),
    ("18446744073709551616", "metadata[n]"),        # 2**64
    ("-9223372036854775809", "metadata[n]"),        # -2**63 - 1
    ("[1, 100000000000000000000000000]", "metadata[n][1]"),
])
def test_integers_that_cannot_be_returned_as_given_are_a_400(client, factory, literal, path):
    customer = factory.customer()
    body = orjson.dumps({**VALID_PARAMS["categorization"], "metadata": {"n": "X"}}).replace(b'"X"', literal.encode())
    r = client.post("/v1/task/categorize", auth=customer.test_auth, content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith(path), r.text
    form = {**VALID_PARAMS["categorization"], "metadata": '{"n": %s}' % literal}
    r = client.post("/v1/task/categorize", auth=customer.test_auth, data=form)
    assert r.status_code == 400 and r.json()["error"].startswith(path), r.text


def test_numbers_that_fit_come_back_exactly_as_given(client, factory):
    customer = factory.customer()
    body = (b'{"callback_url": "http://example.com/cb", "instruction": "x", "attachment_type": "text",'
            b' "attachment": "a", "categories": ["a"], "metadata": {"max": 18446744073709551615,'
            b' "min": -9223372036854775808, "float": 1e26, "small": 0.1}}')
    r = client.post("/v1/task/categorize", auth=customer.test_auth, content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    got = client.get(f"/v1/task/{r.json()['task_id']}", auth=customer.test_auth)
    assert b'"max":18446744073709551615' in got.content
    assert b'"min":-9223372036854775808' in got.content
    assert got.json()["metadata"] == {"max": 2**64 - 1, "min": -(2**63), "float": 1e26, "small": 0.1}


# -- behind it: the simulated worker -------------------------------------------------------

def _store(db, task_id: str, **values) -> None:
    with db.write() as conn:
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values))


def test_a_row_stored_before_the_limit_still_reads_and_completes(client, db, factory):
    """orjson writes 253 levels inside the column but not the task inside a list page (256) or a
    callback body: such rows answered 500 for good and stopped the simulated worker."""
    customer = factory.customer()
    deep = factory.task(customer, is_test=True, now=1_000)
    _store(db, deep["id"], metadata=nested(253))
    listed = client.get("/v1/tasks", auth=customer.test_auth)
    assert listed.status_code == 200 and listed.json()["docs"][0]["metadata"] == nested(253)
    assert client.get(f"/v1/task/{deep['id']}", auth=customer.test_auth).status_code == 200
    with db.write() as conn:
        assert complete_due(conn, now=10_000, delay_ms=0) == [deep["id"]]
    (delivery,) = delivery_rows(db, deep["id"])
    assert orjson.loads(delivery["body"])["task"]["metadata"] == nested(253)


def test_the_simulated_worker_sets_aside_a_task_it_cannot_complete(db, factory, caplog):
    customer, other = factory.customer(), factory.customer()
    bad = factory.task(customer, is_test=True, now=1_000)
    good = [factory.task(c, is_test=True, now=2_000 + i) for i, c in enumerate((customer, other, other))]
    # Params no simulated answer can be made from (a row written by hand, or by a bug): the
    # type's code raises TypeError, which used to end the whole batch, every second.
    _store(db, bad["id"], params={"attachment_type": "text", "attachment": "a", "categories": 5})

    with caplog.at_level(logging.ERROR, logger="taskforce.tasks.simulator"):
        with db.write() as conn:
            done = complete_due(conn, now=10_000, delay_ms=0)
        assert sorted(done) == sorted(t["id"] for t in good)
        # Not tried again: no second log line, nothing done, nothing due.
        worker = SimulatedWorker(db, delay_seconds=0, clock=lambda: 20_000)
        assert worker.step() == ([], None)
    logged = [r for r in caplog.records if bad["id"] in r.getMessage()]
    assert len(logged) == 1 and "set aside" in logged[0].getMessage()

    with db.read() as conn:
        statuses = dict(conn.execute(select(tasks.c.id, tasks.c.status)).all())
        assert [t["id"] for t in simulator.set_aside(conn)] == [bad["id"]]
    assert statuses[bad["id"]] == "pending"
    assert all(statuses[t["id"]] == "completed" for t in good)
    # The customer can still cancel it (and the operator's list forgets it).
    from taskforce.tasks import service
    with db.write() as conn:
        service.cancel(conn, bad["id"], customer_id=customer.id, is_test=True)
    with db.read() as conn:
        assert simulator.set_aside(conn) == []


# -- behind it: the dispatcher -------------------------------------------------------------

def test_the_dispatcher_sets_aside_a_delivery_it_cannot_read(db, factory, settings, monkeypatch, caplog):
    customer = factory.customer()
    with Receiver() as receiver:
        tasks_done = [completed_test_task(db, factory, customer, receiver.url) for _ in range(3)]
        bad_id = delivery_rows(db, tasks_done[1]["id"])[0]["id"]
        if db.is_sqlite:
            # Text that is not UTF-8: Python cannot read the row.
            with db.write() as conn:
                conn.execute(text("UPDATE deliveries SET body = CAST(x'ff7b7d' AS TEXT) WHERE id = :id"),
                             {"id": bad_id})
        else:
            # PostgreSQL cannot hold such text; fail that row's reading instead.
            real = dispatcher_module._claims

            def failing(conn, ids, token):
                if bad_id in ids:
                    raise ValueError("cannot read this row")
                return real(conn, ids, token)

            monkeypatch.setattr(dispatcher_module, "_claims", failing)
        with caplog.at_level(logging.ERROR, logger="taskforce.callbacks.dispatcher"):
            results = asyncio.run(Dispatcher(db, settings).run_once())
            assert asyncio.run(Dispatcher(db, settings).run_once()) == []
        assert sorted(r.claim.id for r in results) == sorted(
            delivery_rows(db, t["id"])[0]["id"] for t in tasks_done if t is not tasks_done[1])
        receiver.wait_for(2, timeout=30)
    assert len([r for r in caplog.records if f"delivery {bad_id}" in r.getMessage()]) == 1
    with db.read() as conn:
        (aside,) = set_aside_deliveries(conn)
        status = conn.execute(select(deliveries.c.status).where(deliveries.c.id == bad_id)).scalar_one()
    assert aside["id"] == bad_id and status == "failed"
    assert aside["last_error"].startswith("set aside: ")


def test_the_dispatcher_loop_sets_aside_a_result_it_cannot_record(db, factory, settings, monkeypatch):
    customer = factory.customer()
    with Receiver() as receiver:
        done = [completed_test_task(db, factory, customer, receiver.url) for _ in range(3)]
        bad_id = delivery_rows(db, done[0]["id"])[0]["id"]
        real = dispatcher_module.record_many

        def failing(conn, results, **kwargs):
            if any(r.claim.id == bad_id for r in results):
                # What PostgreSQL says of a NUL in text, say: the batch's write fails.
                raise ValueError("cannot write this result")
            return real(conn, results, **kwargs)

        monkeypatch.setattr(dispatcher_module, "record_many", failing)

        async def main() -> None:
            loop = asyncio.create_task(Dispatcher(db, settings, poll_seconds=0.05).run())
            deadline = asyncio.get_running_loop().time() + 30
            while asyncio.get_running_loop().time() < deadline:
                rows = [delivery_rows(db, t["id"])[0] for t in done]
                if all(r["status"] != "pending" for r in rows):
                    break
                await asyncio.sleep(0.05)
            loop.cancel()
            await asyncio.wait({loop}, timeout=10)

        asyncio.run(main())
    statuses = {r["id"]: (r["status"], r["last_error"]) for t in done for r in delivery_rows(db, t["id"])}
    assert statuses.pop(bad_id)[0] == "failed"
    assert all(status == "delivered" for status, _ in statuses.values()), statuses


def test_operators_list_what_was_set_aside(db, factory, database_url):
    from typer.testing import CliRunner

    from taskforce import cli

    customer = factory.customer()
    bad = factory.task(customer, is_test=True, now=1_000)
    _store(db, bad["id"], params={"categories": 5})
    with db.write() as conn:
        complete_due(conn, now=10_000, delay_ms=0)
    result = CliRunner().invoke(cli.app, ["set-aside"], env={"TASKFORCE_DATABASE_URL": database_url,
                                                             "TASKFORCE_SECRET_KEY": "s"})
    assert result.exit_code == 0, result.output
    assert "1 test task(s) the simulated worker set aside" in result.output
    assert f"task {bad['id']}  customer {customer.id}" in result.output
    assert "0 callback delivery(ies)" in result.output
