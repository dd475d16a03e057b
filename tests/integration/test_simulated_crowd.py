"""Test mode's simulated crowd end to end: a real server answers a test task created with
overlap 3 by three simulated workers, combines them and calls back once, with ``quality``; the
answers endpoint shows the crowd."""

from __future__ import annotations

import time

import httpx
import pytest

from taskforce.config import Settings
from tests.factories import VALID_PARAMS
from tests.integration.test_callback_helpers import Receiver

DELAY = 0.3


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret", run_dispatcher=True,
                    callback_allowed_networks=["127.0.0.0/8"], test_mode_delay_seconds=DELAY)


def test_a_test_task_with_overlap_is_answered_by_the_simulated_crowd(server, factory):
    customer = factory.customer()
    with Receiver() as receiver:
        r = httpx.post(f"{server.url}/v1/task/categorize", auth=customer.test_auth,
                       json={**VALID_PARAMS["categorization"], "callback_url": receiver.url, "overlap": 3,
                             "categories": ["a", "b"]})  # three answers on two: never all disagree
        assert r.status_code == 200, r.text
        task_id = r.json()["task_id"]
        (got,) = receiver.wait_for(1, timeout=30)
        time.sleep(0.5)
        assert len(receiver.requests) == 1  # once
    body = got.json
    assert body["task"]["status"] == "completed"
    quality = body["task"]["quality"]
    assert quality["answers"] == 3 and quality["method"] == "majority" and 0 < quality["confidence"] <= 1
    assert set(quality["agreement"]) == {"category"}
    answers = httpx.get(f"{server.url}/v1/task/{task_id}/answers", auth=customer.test_auth).json()["answers"]
    assert [a["worker"] for a in answers] == ["sim-0", "sim-1", "sim-2"]
    assert all(a["weight"] == 1.0 for a in answers)
    assert body["response"]["category"] in {a["response"]["category"] for a in answers}
