"""GET /v1/task/{id}/callbacks and POST /v1/task/{id}/callback through the ASGI app."""

from __future__ import annotations

import asyncio

import pytest

from taskforce.callbacks.dispatcher import Dispatcher

from tests.integration.test_callback_helpers import (
    Answer,
    Receiver,
    completed_live_task,
    completed_test_task,
    delivery_rows,
)


def test_callbacks_of_a_pending_task_are_empty(client, factory):
    customer = factory.customer()
    task = factory.task(customer)
    r = client.get(f"/v1/task/{task['id']}/callbacks", auth=customer.live_auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"task_id": task["id"], "callback_url": task["callback_url"],
                        "callback_succeeded": None, "deliveries": [], "attempts": []}


def test_attempts_are_listed_and_the_task_shows_callback_succeeded(client, factory, db, settings):
    customer = factory.customer()
    with Receiver(answer=lambda n, _: Answer(status=500 if n == 0 else 200)) as receiver:
        task = completed_live_task(db, factory, customer, receiver.url)
        before = client.get(f"/v1/task/{task['id']}", auth=customer.live_auth).json()
        assert before["callback_succeeded"] is None
        dispatcher = Dispatcher(db, settings)
        asyncio.run(dispatcher.run_once())
        with db.write() as conn:  # make the retry due now rather than in a few seconds
            conn.exec_driver_sql("UPDATE deliveries SET next_attempt_at = 0 WHERE status = 'pending'")
        asyncio.run(dispatcher.run_once())

    r = client.get(f"/v1/task/{task['id']}/callbacks/", auth=customer.live_auth)
    assert r.status_code == 200
    body = r.json()
    assert body["callback_succeeded"] is True
    (delivery,) = body["deliveries"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 2
    assert delivery["next_attempt_at"] is None and delivery["delivered_at"].endswith("Z")
    first, second = body["attempts"]
    assert first["status_code"] == 500 and first["error"] == "HTTP 500"
    assert second["status_code"] == 200 and second["error"] is None
    assert first["webhook_id"] == second["webhook_id"] == delivery["webhook_id"]
    assert first["attempted_at"].endswith("Z") and isinstance(first["latency_ms"], int)
    assert client.get(f"/v1/task/{task['id']}", auth=customer.live_auth).json()["callback_succeeded"] is True


def test_callbacks_are_scoped_to_the_customer_and_mode(client, factory, db):
    alice, bob = factory.customer(), factory.customer()
    live = completed_live_task(db, factory, alice, "http://127.0.0.1:9/x")
    test = completed_test_task(db, factory, alice, "http://127.0.0.1:9/x")
    for path in ("callbacks", "callback"):
        method = client.get if path == "callbacks" else client.post
        r = method(f"/v1/task/{live['id']}/{path}", auth=bob.live_auth)
        assert r.status_code == 404 and r.json()["status_code"] == 404
        assert method(f"/v1/task/{live['id']}/{path}", auth=alice.test_auth).status_code == 404
        assert method(f"/v1/task/{test['id']}/{path}", auth=alice.live_auth).status_code == 404
    assert client.get(f"/v1/task/{test['id']}/callbacks", auth=alice.test_auth).status_code == 200


@pytest.mark.parametrize("method", ["get", "post"])
def test_callback_endpoints_need_a_key(client, factory, method):
    customer = factory.customer()
    task = factory.task(customer)
    path = f"/v1/task/{task['id']}/" + ("callbacks" if method == "get" else "callback")
    r = getattr(client, method)(path)
    assert r.status_code == 401 and set(r.json()) == {"status_code", "error"}
    r = getattr(client, method)(path, auth=("live_nope", ""))
    assert r.status_code == 401


def test_redeliver_a_completed_task(client, factory, db, settings):
    customer = factory.customer()
    with Receiver() as receiver:
        task = completed_test_task(db, factory, customer, receiver.url)
        asyncio.run(Dispatcher(db, settings).run_once())
        r = client.post(f"/v1/task/{task['id']}/callback", auth=customer.test_auth,
                        content=b"ignored", headers={"content-type": "text/plain"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["task_id"] == task["id"] and body["status"] == "pending"
        assert body["attempts"] == 0
        assert client.get(f"/v1/task/{task['id']}", auth=customer.test_auth).json()["callback_succeeded"] is None
        asyncio.run(Dispatcher(db, settings).run_once())
        first, second = receiver.wait_for(2)
    assert second.headers["webhook-id"] == body["webhook_id"] != first.headers["webhook-id"]
    assert second.json["task_id"] == task["id"]
    listed = client.get(f"/v1/task/{task['id']}/callbacks", auth=customer.test_auth).json()
    assert [d["status"] for d in listed["deliveries"]] == ["delivered", "delivered"]
    assert len(listed["attempts"]) == 2 and listed["callback_succeeded"] is True
    # The trailing-slash form works too.
    again = client.post(f"/v1/task/{task['id']}/callback/", auth=customer.test_auth)
    assert again.status_code == 200


def test_redeliver_replaces_a_delivery_still_being_retried(client, factory, db):
    customer = factory.customer()
    task = completed_test_task(db, factory, customer, "http://127.0.0.1:9/x")
    r = client.post(f"/v1/task/{task['id']}/callback", auth=customer.test_auth)
    assert r.status_code == 200
    old, new = delivery_rows(db, task["id"])
    assert old["status"] == "failed" and old["last_error"] == "superseded by a redelivery"
    assert new["status"] == "pending" and new["id"] == r.json()["delivery_id"]


@pytest.mark.parametrize("state", ["pending", "canceled"])
def test_redeliver_refuses_a_task_that_is_not_completed(client, factory, state):
    customer = factory.customer()
    task = factory.task(customer)
    if state == "canceled":
        client.post(f"/v1/task/{task['id']}/cancel", auth=customer.live_auth)
    r = client.post(f"/v1/task/{task['id']}/callback", auth=customer.live_auth)
    assert r.status_code == 409
    assert r.json() == {"status_code": 409,
                        "error": f"task {task['id']} is {state}; only completed tasks have a callback"}


def test_unknown_task_is_404_not_500(client, factory):
    customer = factory.customer()
    for task_id in ("0" * 24, "nope", "x" * 300):
        assert client.get(f"/v1/task/{task_id}/callbacks", auth=customer.live_auth).status_code == 404
        assert client.post(f"/v1/task/{task_id}/callback", auth=customer.live_auth).status_code == 404
