"""In-process wake-ups: a commit that owes work (a callback, a test task to answer) pokes the
loop that does it, so it need not poll often. Polling stays as the fallback for work committed
by other processes."""

from __future__ import annotations

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
