"""The background loops' wake-up wait must never lose a cancellation: a loop that kept waiting
after being cancelled hung server shutdown and, once, a whole CI run."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from taskforce.signals import Signals, wait_woken, waker


async def _waiting_loop(event: asyncio.Event, rounds: list[int]) -> None:
    # The shape of the dispatcher's and the simulator's loops: clear, work, wait.
    while True:
        event.clear()
        rounds.append(1)
        await wait_woken(event, 30)


async def _cancel_as_woken(spins: int) -> bool:
    """Set the event and cancel the loop ``spins`` scheduler turns apart; True if it stopped."""
    event = asyncio.Event()
    rounds: list[int] = []
    task = asyncio.create_task(_waiting_loop(event, rounds))
    while not rounds:
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    event.set()
    for _ in range(spins):
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    if not done:
        task.cancel()  # one more, so the test itself ends
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return bool(done) and task.cancelled()


@pytest.mark.parametrize("spins", range(6))
def test_a_cancellation_arriving_with_the_wake_up_is_never_lost(spins):
    assert asyncio.run(_cancel_as_woken(spins))


def test_the_wait_ends_on_the_event_or_the_timeout():
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        started = loop.time()
        await wait_woken(event, 0.05)
        timed_out = loop.time() - started
        loop.call_later(0.01, event.set)
        started = loop.time()
        await wait_woken(event, 30)
        return timed_out, loop.time() - started

    timed_out, woken = asyncio.run(main())
    assert 0.04 <= timed_out < 1
    assert woken < 1


def test_a_publish_from_another_thread_wakes_the_loop_and_a_closed_loop_is_harmless():
    signals = Signals()

    async def main() -> None:
        event = asyncio.Event()
        signals.subscribe("topic", waker(asyncio.get_running_loop(), event))
        threading.Timer(0.01, signals.publish, args=("topic",)).start()
        await wait_woken(event, 5)
        assert event.is_set()

    asyncio.run(main())
    signals.publish("topic")  # that loop is closed now: publishing must still not raise
