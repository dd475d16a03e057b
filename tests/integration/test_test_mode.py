"""Test mode end to end: a real server (uvicorn on loopback, with its background loops) takes a
task created with a test key; the simulated worker answers it after the configured delay and the
callback reaches a real receiver exactly like a live one."""

from __future__ import annotations

import time

import httpx
import pytest
from standardwebhooks import Webhook

from taskforce.config import Settings
from taskforce.task_types import REGISTRY

from tests.factories import VALID_PARAMS
from tests.integration.test_callback_helpers import Receiver, customer_row

DELAY = 0.5


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret", run_dispatcher=True,
                    callback_allowed_networks=["127.0.0.0/8"], test_mode_delay_seconds=DELAY)


@pytest.mark.parametrize("type_name", list(VALID_PARAMS))
def test_a_test_task_is_answered_and_called_back(server, factory, db, type_name):
    customer = factory.customer()
    endpoint = {"categorization": "categorize"}.get(type_name, type_name)
    with Receiver() as receiver:
        created_at = time.monotonic()
        r = httpx.post(f"{server.url}/v1/task/{endpoint}", auth=customer.test_auth,
                       json={**VALID_PARAMS[type_name], "callback_url": receiver.url})
        assert r.status_code == 200, r.text
        task = r.json()
        assert task["status"] == "pending"
        (got,) = receiver.wait_for(1, timeout=30)
        waited = got.at - created_at

    # The delay is honoured; the upper bound only says "not stuck" (a loaded 2-core CI machine
    # has taken 3 s for the simulator's step plus the delivery, so it is no latency measurement).
    assert DELAY * 0.8 <= waited < DELAY + 20
    row = customer_row(db, customer.id)
    Webhook(row["signing_secret"]).verify(got.body, got.headers)
    assert got.headers["scale-callback-auth"] == row["callback_auth_key"]
    body = got.json
    assert body["task_id"] == task["task_id"] and body["task"]["status"] == "completed"
    # A valid answer for the type, chosen deterministically from the task.
    task_type = REGISTRY.get(type_name)
    expected = task_type.simulated_response(task["task_id"], task["params"])
    assert body["response"] == task_type.validate_response(task["params"], expected)

    deadline = time.monotonic() + 30  # a deadline for "stuck", not a latency bound
    while True:
        fetched = httpx.get(f"{server.url}/v1/task/{task['task_id']}", auth=customer.test_auth).json()
        if fetched["callback_succeeded"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert fetched["status"] == "completed" and fetched["callback_succeeded"] is True
    assert fetched["response"] == body["response"]


def test_live_tasks_wait_for_people_and_modes_never_mix(server, factory):
    customer = factory.customer()
    body = {**VALID_PARAMS["categorization"], "callback_url": "http://127.0.0.1:9/unused"}
    live = httpx.post(f"{server.url}/v1/task/categorize", auth=customer.live_auth, json=body).json()
    test = httpx.post(f"{server.url}/v1/task/categorize", auth=customer.test_auth, json=body).json()
    # Once the simulated worker has answered the test task (however long a loaded machine
    # takes), it has had its chance at the live one too.
    deadline = time.monotonic() + 30
    while httpx.get(f"{server.url}/v1/task/{test['task_id']}", auth=customer.test_auth).json()["status"] != "completed":
        assert time.monotonic() < deadline, "the simulated worker never answered the test task"
        time.sleep(0.05)
    time.sleep(DELAY)  # and one more of its rounds
    assert httpx.get(f"{server.url}/v1/task/{live['task_id']}", auth=customer.live_auth).json()["status"] == "pending"
    live_list = httpx.get(f"{server.url}/v1/tasks", auth=customer.live_auth).json()
    test_list = httpx.get(f"{server.url}/v1/tasks", auth=customer.test_auth).json()
    assert [t["task_id"] for t in live_list["docs"]] == [live["task_id"]]
    assert [t["task_id"] for t in test_list["docs"]] == [test["task_id"]]


@pytest.mark.parametrize("task_id", ["65a0f00d0123456789abcdef", "65a0f00dfedcba9876543210"])
def test_the_answer_is_deterministic(task_id):
    """The same task always gets the same simulated answer (customers can assert on it)."""
    for task_type in REGISTRY:
        params = task_type.parse(VALID_PARAMS[task_type.name]).task_params()
        first = task_type.simulated_response(task_id, params)
        assert all(task_type.simulated_response(task_id, params) == first for _ in range(5))
        task_type.validate_response(params, first)
