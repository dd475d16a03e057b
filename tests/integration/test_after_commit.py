"""Wake-ups are published by the unit of work once it commits, never on rollback, so no call site
has to remember to publish (both backends)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from taskforce import db as db_module
from taskforce.callbacks.dispatcher import Dispatcher
from taskforce.signals import TASK_COMPLETED, TEST_TASK_CREATED
from taskforce.task_types import REGISTRY
from taskforce.tasks import service
from tests.integration.test_callback_helpers import Receiver
from tests.integration.test_dispatcher import run, stop


def _heard(db, topic: str) -> list[int]:
    heard: list[int] = []
    db.signals.subscribe(topic, lambda: heard.append(1))
    return heard


def _answer(task):
    return REGISTRY.get(task["type"]).simulated_response(task["id"], task["params"])


def test_a_rolled_back_completion_wakes_nobody_and_a_committed_one_wakes_once(db, factory):
    customer = factory.customer()
    first, second = factory.task(customer, is_test=True), factory.task(customer, is_test=True)
    heard = _heard(db, TASK_COMPLETED)
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            service.complete(conn, first["id"], _answer(first), worker_id=None, lease_token=None)
            raise RuntimeError("roll back")
    assert heard == []
    with db.read() as conn:
        assert service.get(conn, first["id"])["status"] == "pending"
    with db.write() as conn:  # two completions in one transaction: one wake-up
        service.complete(conn, first["id"], _answer(first), worker_id=None, lease_token=None)
        service.complete(conn, second["id"], _answer(second), worker_id=None, lease_token=None)
        assert heard == []  # not before COMMIT
    assert heard == [1]


def test_a_test_task_created_wakes_the_simulated_worker_and_a_live_one_does_not(db, factory):
    customer = factory.customer()
    heard = _heard(db, TEST_TASK_CREATED)
    factory.task(customer)
    assert heard == []
    factory.task(customer, is_test=True)
    assert heard == [1]


def test_a_failing_hook_is_logged_and_the_commit_stands(db, factory, caplog):
    customer = factory.customer()
    ran: list[str] = []

    def broken() -> None:
        raise ValueError("listener bug")

    with caplog.at_level(logging.ERROR, logger="taskforce.db"):
        with db.write() as conn:
            task = service.create(conn, customer_id=customer.id, is_test=False,
                                  task_type=REGISTRY.get("categorization"),
                                  params=REGISTRY.get("categorization").parse(
                                      {"callback_url": "http://www.example.com/cb", "instruction": "?",
                                       "attachment_type": "text", "attachment": "x",
                                       "categories": ["a", "b"]}))
            db_module.after_commit(conn, broken)
            db_module.after_commit(conn, lambda: ran.append("later hook"))
    assert ran == ["later hook"]
    assert "listener bug" in caplog.text
    with db.read() as conn:
        assert service.get(conn, task["id"])["status"] == "pending"


def test_a_committed_completion_wakes_the_dispatcher_without_the_caller_publishing(db, factory, settings):
    """With a 30 s poll, only the after-commit wake-up can make the callback leave quickly; the
    caller here only commits (the API, the worker pages and the simulator do no more)."""
    customer = factory.customer()
    with Receiver() as receiver:
        task = factory.task(customer, is_test=True, callback_url=receiver.url)

        def complete() -> None:
            with db.write() as conn:
                service.complete(conn, task["id"], _answer(task), worker_id=None, lease_token=None)

        async def main() -> float:
            loop = asyncio.create_task(Dispatcher(db, settings, signals=db.signals, poll_seconds=30).run())
            await asyncio.sleep(0.3)  # idle, waiting
            started = time.monotonic()
            await asyncio.to_thread(complete)
            while not receiver.requests and time.monotonic() - started < 25:
                await asyncio.sleep(0.01)
            await stop(loop)
            assert receiver.requests, "no callback: the loop waited for its 30 s poll"
            return receiver.requests[0].at - started

        latency = run(main())
    # Half the 30 s poll: only the wake-up gets it there sooner (a loaded CI machine has taken
    # seconds for what takes milliseconds here, so the bound is no latency measurement).
    assert latency < 15
