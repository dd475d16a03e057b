"""The dispatcher against a real HTTP receiver on 127.0.0.1, on SQLite and PostgreSQL:
headers and signatures (checked with ``standardwebhooks``), retries under a controlled clock,
410, timeouts, giving up, and several dispatchers never sending one delivery twice at once."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from standardwebhooks import Webhook

from taskforce import customers
from taskforce.callbacks import backoff
from taskforce.callbacks.dispatcher import Dispatcher
from taskforce.signals import TASK_COMPLETED, Signals
from taskforce.tasks import service

from tests.integration.test_callback_helpers import (
    Answer,
    Clock,
    Receiver,
    attempt_rows,
    callback_succeeded,
    completed_live_task,
    completed_test_task,
    customer_row,
    delivery_rows,
)


def run(coro):
    return asyncio.run(coro)


async def stop(*loops: asyncio.Task) -> None:
    """Cancel dispatcher loops; they must end promptly (a lost cancellation once hung CI)."""
    for loop in loops:
        loop.cancel()
    _, still_running = await asyncio.wait(set(loops), timeout=10)
    assert not still_running, "a cancelled dispatcher loop kept running"


def test_live_callback_headers_body_and_signature(db, factory, settings):
    customer = factory.customer()
    with Receiver() as receiver:
        task = completed_live_task(db, factory, customer, receiver.url)
        results = run(Dispatcher(db, settings).run_once())
        assert [r.outcome.status_code for r in results] == [200]
        (got,) = receiver.wait_for(1)

    row = customer_row(db, customer.id)
    (delivery,) = delivery_rows(db, task["id"])
    assert got.path == "/callback"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["scale-callback-auth"] == row["callback_auth_key"]
    assert got.headers["webhook-id"] == delivery["webhook_id"]
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 30
    # An independent implementation accepts the signature (and checks the timestamp's freshness).
    Webhook(row["signing_secret"]).verify(got.body, got.headers)

    body = got.json
    assert set(body) == {"task", "response", "task_id"}
    assert body["task_id"] == task["id"]
    assert body["response"] == {"category": "public"}
    assert body["task"]["task_id"] == task["id"]
    assert body["task"]["status"] == "completed"
    assert body["task"]["response"] == body["response"]
    assert body["task"]["callback_url"] == receiver.url

    assert delivery_rows(db, task["id"])[0]["status"] == "delivered"
    (attempt,) = attempt_rows(db, delivery["id"])
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["latency_ms"] is not None
    assert callback_succeeded(db, task["id"]) is True


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_any_2xx_is_success(db, factory, settings, status):
    customer = factory.customer()
    with Receiver(answer=Answer(status=status, body=b"")) as receiver:
        task = completed_test_task(db, factory, customer, receiver.url)
        run(Dispatcher(db, settings).run_once())
    assert delivery_rows(db, task["id"])[0]["status"] == "delivered"
    assert callback_succeeded(db, task["id"]) is True


def test_receiver_failing_k_times_then_succeeding(db, factory, settings):
    k = 4
    customer = factory.customer()
    clock = Clock()
    dispatcher = Dispatcher(db, settings, clock=clock, rng=random.Random(7))
    with Receiver(answer=lambda n, _: Answer(status=503 if n < k else 200)) as receiver:
        task = completed_test_task(db, factory, customer, receiver.url, now=clock.now)
        (delivery,) = delivery_rows(db, task["id"])
        due_times = [clock.now]
        for attempt in range(1, k + 1):
            assert len(run(dispatcher.run_once())) == 1
            row = delivery_rows(db, task["id"])[0]
            assert row["status"] == "pending" and row["attempts"] == attempt
            assert row["last_status_code"] == 503
            gap = row["next_attempt_at"] - clock.now
            # The schedule's own delay for this attempt, jitter included.
            assert (1 - backoff.JITTER) * min(backoff.CAP_MS, 5_000 * 2 ** (attempt - 1)) <= gap
            assert gap <= min(backoff.CAP_MS, 5_000 * 2 ** (attempt - 1))
            # Not due yet: nothing is sent.
            clock.now = row["next_attempt_at"] - 1
            assert run(dispatcher.run_once()) == []
            clock.advance_to(row["next_attempt_at"])
            due_times.append(clock.now)
        assert len(run(dispatcher.run_once())) == 1
        received = receiver.wait_for(k + 1)

    assert len(received) == k + 1
    assert due_times[1] - due_times[0] <= 5_000  # the first retry within seconds
    # Every retry is the same message: same id, same body, each one validly signed.
    assert {r.headers["webhook-id"] for r in received} == {delivery["webhook_id"]}
    assert {r.body for r in received} == {received[0].body}
    secret = customer_row(db, customer.id)["signing_secret"]
    for r in received:
        Webhook(secret).verify(r.body, r.headers)
    row = delivery_rows(db, task["id"])[0]
    assert row["status"] == "delivered" and row["attempts"] == k + 1
    attempts = attempt_rows(db, row["id"])
    assert [a["status_code"] for a in attempts] == [503] * k + [200]
    assert [a["attempted_at"] for a in attempts] == due_times
    assert callback_succeeded(db, task["id"]) is True


def test_gives_up_after_max_attempts(db, factory, settings):
    settings.callback_max_attempts = 3
    customer = factory.customer()
    clock = Clock()
    dispatcher = Dispatcher(db, settings, clock=clock)
    with Receiver(answer=Answer(status=500)) as receiver:
        task = completed_test_task(db, factory, customer, receiver.url, now=clock.now)
        for _ in range(3):
            assert len(run(dispatcher.run_once())) == 1
            clock.advance_to(delivery_rows(db, task["id"])[0]["next_attempt_at"])
        assert run(dispatcher.run_once()) == []
        assert len(receiver.requests) == 3
    row = delivery_rows(db, task["id"])[0]
    assert row["status"] == "failed" and row["attempts"] == 3
    assert row["last_error"] == "HTTP 500"
    assert callback_succeeded(db, task["id"]) is False


def test_410_gone_stops_retrying(db, factory, settings):
    customer = factory.customer()
    clock = Clock()
    dispatcher = Dispatcher(db, settings, clock=clock)
    with Receiver(answer=Answer(status=410)) as receiver:
        task = completed_test_task(db, factory, customer, receiver.url, now=clock.now)
        run(dispatcher.run_once())
        clock.now += 48 * 3600 * 1000
        assert run(dispatcher.run_once()) == []
        assert len(receiver.requests) == 1
    row = delivery_rows(db, task["id"])[0]
    assert row["status"] == "failed" and row["attempts"] == 1 and row["last_status_code"] == 410
    assert "410" in row["last_error"]
    assert callback_succeeded(db, task["id"]) is False


def test_timeout_is_a_failed_attempt_and_retried(db, factory, settings):
    settings.callback_timeout_seconds = 0.3
    customer = factory.customer()
    with Receiver(answer=Answer(delay=6.0)) as receiver:
        task = completed_test_task(db, factory, customer, receiver.url)
        started = time.monotonic()
        run(Dispatcher(db, settings).run_once())
        took = time.monotonic() - started
    assert took < 4.5  # the receiver would have taken 6 s
    row = delivery_rows(db, task["id"])[0]
    assert row["status"] == "pending" and row["attempts"] == 1
    (attempt,) = attempt_rows(db, row["id"])
    assert attempt["status_code"] is None
    assert attempt["error"] == "timed out after 0.3 s"
    assert 250 <= attempt["latency_ms"] < 4500
    assert callback_succeeded(db, task["id"]) is None


def test_connection_refused_is_recorded_and_retried(db, factory, settings):
    customer = factory.customer()
    receiver = Receiver()
    url = receiver.url
    receiver.server.server_close()  # nothing listens on that port any more
    task = completed_test_task(db, factory, customer, url)
    run(Dispatcher(db, settings).run_once())
    row = delivery_rows(db, task["id"])[0]
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"].startswith("could not connect")


def test_redirects_are_not_followed(db, factory, settings):
    customer = factory.customer()
    with Receiver() as canary, Receiver(answer=Answer(status=307, headers={"Location": "/elsewhere"})) as receiver:
        receiver.answer = Answer(status=302, headers={"Location": canary.url})
        task = completed_test_task(db, factory, customer, receiver.url)
        run(Dispatcher(db, settings).run_once())
        time.sleep(0.2)
        assert canary.requests == []
        assert len(receiver.requests) == 1
    row = delivery_rows(db, task["id"])[0]
    assert row["status"] == "pending" and row["last_status_code"] == 302
    assert "redirects are not followed" in row["last_error"]


def test_rotation_signs_with_both_secrets_during_grace(db, factory, settings):
    customer = factory.customer()
    old = customer_row(db, customer.id)["signing_secret"]
    with db.write() as conn:
        new = customers.rotate_signing_secret(conn, customer.id, grace_seconds=3600)
    with Receiver() as receiver:
        completed_test_task(db, factory, customer, receiver.url)
        run(Dispatcher(db, settings).run_once())
        (got,) = receiver.wait_for(1)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)


def test_many_deliveries_in_flight_at_once(db, factory, settings):
    settings.callback_concurrency = 64
    customer = factory.customer()
    with Receiver(answer=Answer(delay=0.5)) as receiver:
        for _ in range(40):
            completed_test_task(db, factory, customer, receiver.url)
        started = time.monotonic()
        results = run(Dispatcher(db, settings).run_once())
        took = time.monotonic() - started
    assert len(results) == 40 and all(r.outcome.ok for r in results)
    assert took < 12  # one after another would take 20 s (a loaded CI machine is slow, not serial)


def test_several_dispatchers_never_send_one_delivery_concurrently(db, factory, settings):
    """Four dispatchers run their loops at once over 120 owed callbacks; a slow receiver keeps
    many in flight. Every callback arrives exactly once (all succeed, so any repeat would be a
    concurrent double send)."""
    settings.callback_concurrency = 16
    customer = factory.customer()
    with Receiver(answer=Answer(delay=0.05)) as receiver:
        tasks = [completed_test_task(db, factory, customer, receiver.url) for _ in range(120)]

        async def main() -> None:
            loops = [asyncio.create_task(Dispatcher(db, settings, poll_seconds=0.05).run())
                     for _ in range(4)]
            deadline = time.monotonic() + 90
            while len(receiver.requests) < len(tasks) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # room for any duplicate to show up
            await stop(*loops)

        run(main())
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(tasks)
    assert len(set(ids)) == len(tasks)
    assert all(row["status"] == "delivered" for row in delivery_rows(db))


def test_the_loop_wakes_on_completion_not_on_its_poll(db, factory, settings):
    """With a 30 s poll, only the TASK_COMPLETED signal can make the callback leave quickly."""
    customer = factory.customer()
    signals = Signals()
    with Receiver() as receiver:
        async def main() -> float:
            loop = asyncio.create_task(Dispatcher(db, settings, signals=signals, poll_seconds=30).run())
            await asyncio.sleep(0.3)  # idle, waiting
            started = time.monotonic()
            await asyncio.to_thread(completed_test_task, db, factory, customer, receiver.url)
            signals.publish(TASK_COMPLETED)
            while not receiver.requests and time.monotonic() - started < 25:
                await asyncio.sleep(0.01)
            await stop(loop)
            assert receiver.requests, "no callback: the loop waited for its 30 s poll"
            return receiver.requests[0].at - started

        latency = run(main())
    # Half the 30 s poll: only the wake-up gets it there sooner (a loaded CI machine has taken
    # seconds for what takes milliseconds here, so the bound is no latency measurement).
    assert latency < 15


def test_a_lost_claim_does_not_overwrite_the_new_owner(db, factory, settings):
    """A dispatcher whose lease ran out (it stalled) must not apply its result over the row
    that another dispatcher has claimed since; its attempt is still recorded."""
    customer = factory.customer()
    clock = Clock()
    slow, fast = Dispatcher(db, settings, clock=clock), Dispatcher(db, settings, clock=clock)
    with Receiver() as receiver:
        task = completed_test_task(db, factory, customer, receiver.url, now=clock.now)
        (stale,) = slow.claim()
        clock.now = stale.token + 1  # the stale claim's lease has run out
        (fresh,) = fast.claim()
        assert fresh.id == stale.id and fresh.token != stale.token

        async def attempt(d, c):
            session = d.new_session()
            try:
                return await d.attempt(session, c)
            finally:
                await session.close()

        assert slow.record([run(attempt(slow, stale))]) == ["lost"]
        row = delivery_rows(db, task["id"])[0]
        assert row["status"] == "pending" and row["next_attempt_at"] == fresh.token
        assert fast.record([run(attempt(fast, fresh))]) == ["delivered"]
    assert len(attempt_rows(db, row["id"])) == 2
    assert {r.headers["webhook-id"] for r in receiver.requests} == {row["webhook_id"]}


def test_shutdown_hands_back_unsent_claims(db, factory, settings):
    customer = factory.customer()
    settings = settings.model_copy(update={"shutdown_grace_seconds": 0})  # no time to finish
    with Receiver(answer=Answer(delay=3)) as receiver:
        task = completed_test_task(db, factory, customer, receiver.url)

        async def main() -> None:
            loop = asyncio.create_task(Dispatcher(db, settings, poll_seconds=0.05).run())
            await asyncio.to_thread(receiver.wait_for, 1)
            await stop(loop)

        before = time.time() * 1000
        run(main())
    row = delivery_rows(db, task["id"])[0]
    # Due again now, not after the lease: a restart sends it at once.
    assert row["status"] == "pending" and row["next_attempt_at"] <= time.time() * 1000
    assert row["next_attempt_at"] >= before - 1000


def test_shutdown_lets_a_send_in_flight_finish_within_the_grace(db, factory, settings):
    customer = factory.customer()
    settings = settings.model_copy(update={"shutdown_grace_seconds": 10})
    with Receiver(answer=Answer(delay=1)) as receiver:
        task = completed_test_task(db, factory, customer, receiver.url)

        async def main() -> None:
            loop = asyncio.create_task(Dispatcher(db, settings, poll_seconds=0.05).run())
            await asyncio.to_thread(receiver.wait_for, 1)
            await stop(loop)  # while the receiver is still answering

        run(main())
    row = delivery_rows(db, task["id"])[0]
    assert row["status"] == "delivered" and row["attempts"] == 1
    assert len(receiver.requests) == 1


def test_newest_delivery_decides_callback_succeeded(db, factory, settings):
    from taskforce.callbacks.service import redeliver

    customer = factory.customer()
    clock = Clock()
    with Receiver(answer=lambda n, _: Answer(status=200 if n == 0 else 410)) as receiver:
        task = completed_test_task(db, factory, customer, receiver.url, now=clock.now)
        run(Dispatcher(db, settings, clock=clock).run_once())
        assert callback_succeeded(db, task["id"]) is True
        with db.write() as conn:
            redeliver(conn, task["id"], customer.id, now=clock.now)
        assert callback_succeeded(db, task["id"]) is None
        run(Dispatcher(db, settings, clock=clock).run_once())
    assert callback_succeeded(db, task["id"]) is False
    first, second = delivery_rows(db, task["id"])
    assert first["webhook_id"] != second["webhook_id"]
    assert [r.headers["webhook-id"] for r in receiver.requests] == [first["webhook_id"], second["webhook_id"]]


def test_simulated_completion_of_a_canceled_test_task_owes_nothing(db, factory, settings):
    customer = factory.customer()
    task = factory.task(customer, is_test=True, callback_url="http://127.0.0.1:9/x")
    with db.write() as conn:
        service.cancel(conn, task["id"], customer_id=customer.id, is_test=True)
    from taskforce.tasks.simulator import complete_due

    with db.write() as conn:
        assert complete_due(conn, now=task["created_at"] + 10_000, delay_ms=0) == []
    assert delivery_rows(db) == []


def test_publishing_after_the_loop_stopped_is_harmless(db, settings):
    """A completion published after a dispatcher's loop ended must not fail the publisher
    (an API request or a worker's submission)."""
    signals = Signals()

    async def main() -> None:
        loop = asyncio.create_task(Dispatcher(db, settings, signals=signals, poll_seconds=0.05).run())
        await asyncio.sleep(0.1)
        await stop(loop)

    run(main())
    signals.publish(TASK_COMPLETED)
