"""In-process wake-ups: a commit that owes work (a callback, a test task to answer) pokes the
loop that does it, so it need not poll often. Polling stays as the fallback for work committed
by other processes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable

#: A test-mode task was created: the simulated worker has something to answer.
TEST_TASK_CREATED = "test_task_created"
#: A task completed: a callback is owed.
TASK_COMPLETED = "task_completed"


class Signals:
    def __init__(self) -> None:
        self._listeners: dict[str, list[Callable[[], None]]] = defaultdict(list)

    def subscribe(self, topic: str, listener: Callable[[], None]) -> None:
        self._listeners[topic].append(listener)

    def publish(self, topic: str) -> None:
        for listener in self._listeners.get(topic, ()):
            listener()


def waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> Callable[[], None]:
    """A signal listener that sets ``event`` on ``loop`` from any thread, and is harmless once
    that loop has closed (publishers must never fail because a loop stopped)."""

    def wake() -> None:
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:
            pass

    return wake


async def wait_woken(event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` is set or ``seconds`` pass, whichever is first.

    Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that arrives just as the
    event is set, so a loop being stopped would carry on waiting (a CI run hung on exactly this).
    ``asyncio.timeout`` counts cancellations and never loses one."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
