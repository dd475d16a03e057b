"""The customer API's task endpoints, end to end through the ASGI app, on both backends."""

from __future__ import annotations

import re

import pytest

from tests.factories import VALID_PARAMS

TASK_ID = re.compile(r"^[0-9a-f]{24}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ENDPOINTS = {"categorization": "categorize", "transcription": "transcription",
             "phonecall": "phonecall", "comparison": "comparison"}


@pytest.mark.parametrize("type_name", list(ENDPOINTS))
def test_create_returns_the_task_object(client, factory, type_name):
    customer = factory.customer()
    body = VALID_PARAMS[type_name]
    r = client.post(f"/v1/task/{ENDPOINTS[type_name]}", json=body, auth=customer.live_auth)
    assert r.status_code == 200, r.text
    task = r.json()
    assert TASK_ID.match(task["task_id"])
    assert TIMESTAMP.match(task["created_at"])
    assert task["type"] == type_name
    assert task["status"] == "pending"
    assert task["instruction"] == body["instruction"]
    assert task["callback_url"] == body["callback_url"]
    assert task["urgency"] == "day"
    assert task["metadata"] == {}
    expected = {k: v for k, v in body.items() if k not in ("callback_url", "instruction")}
    assert task["params"] == expected
    assert "response" not in task and "completed_at" not in task

    fetched = client.get(f"/v1/task/{task['task_id']}", auth=customer.live_auth)
    assert fetched.status_code == 200
    assert fetched.json() == task


def test_retrieve_is_scoped_to_the_customer(client, factory):
    alice, bob = factory.customer(), factory.customer()
    task = factory.task(alice)
    assert client.get(f"/v1/task/{task['id']}", auth=alice.live_auth).status_code == 200
    r = client.get(f"/v1/task/{task['id']}", auth=bob.live_auth)
    assert r.status_code == 404
    assert r.json()["status_code"] == 404
    # A test key does not see live tasks either: the two modes never mix.
    assert client.get(f"/v1/task/{task['id']}", auth=alice.test_auth).status_code == 404


def test_cancel_then_cancel_again_is_the_documented_500(client, factory):
    customer = factory.customer()
    task = factory.task(customer)
    r = client.post(f"/v1/task/{task['id']}/cancel", auth=customer.live_auth)
    assert r.status_code == 200
    assert r.json()["status"] == "canceled"
    again = client.post(f"/v1/task/{task['id']}/cancel/", auth=customer.live_auth,
                        headers={"content-type": "application/json"})
    assert again.status_code == 500
    assert again.json() == {"status_code": 500,
                            "error": f"task {task['id']} is canceled; only pending tasks can be canceled"}


@pytest.mark.parametrize("auth", [None, ("live_nope", ""), ("not-a-key", ""), ("", "")])
def test_bad_credentials_are_401(client, auth):
    r = client.get("/v1/tasks", auth=auth)
    assert r.status_code == 401
    assert r.json()["status_code"] == 401
    assert r.headers["www-authenticate"].startswith("Basic")


def test_list_walks_pages_newest_first(client, factory):
    customer = factory.customer()
    made = [factory.task(customer, now=1_700_000_000_000 + i)["id"] for i in range(7)]
    seen, token = [], None
    while True:
        params = {"limit": 3, **({"next_token": token} if token else {})}
        page = client.get("/v1/tasks/", params=params, auth=customer.live_auth).json()
        assert page["total"] == 7 and page["limit"] == 3
        seen += [d["task_id"] for d in page["docs"]]
        if not page["has_more"]:
            assert page["next_token"] is None
            break
        token = page["next_token"]
    assert seen == list(reversed(made))


@pytest.mark.parametrize("path,method", [("/v1/nope", "get"), ("/v1/tasks", "delete"),
                                         ("/v1/task/frobnicate", "post")])
def test_unknown_routes_and_methods_answer_json(client, factory, path, method):
    customer = factory.customer()
    r = getattr(client, method)(path, auth=customer.live_auth)
    assert r.status_code in (404, 405)
    assert r.json()["status_code"] == r.status_code
