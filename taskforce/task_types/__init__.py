"""The registry of task types. A new type is one module here plus its tests."""

from __future__ import annotations

from taskforce.task_types import categorization, comparison, phonecall, transcription
from taskforce.task_types.base import TaskType


class Registry:
    def __init__(self) -> None:
        self.by_name: dict[str, TaskType] = {}
        self.by_endpoint: dict[str, TaskType] = {}

    def register(self, task_type: TaskType) -> None:
        # Check everything before changing anything, so a refused type leaves no trace.
        if task_type.name in self.by_name:
            raise ValueError(f"task type {task_type.name!r} is already registered")
        taken = [e for e in task_type.endpoints if e in self.by_endpoint]
        if taken:
            raise ValueError(f"endpoint {taken[0]!r} is already registered")
        self.by_name[task_type.name] = task_type
        for endpoint in task_type.endpoints:
            self.by_endpoint[endpoint] = task_type

    def __iter__(self):
        return iter(self.by_name.values())

    def get(self, name: str) -> TaskType:
        return self.by_name[name]


REGISTRY = Registry()
for _module in (categorization, transcription, phonecall, comparison):
    REGISTRY.register(_module.TASK_TYPE)
