"""Task statuses and the transitions between them; pure, no I/O."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    #: Waiting for a worker (possibly leased to one right now).
    PENDING = "pending"
    #: A worker answered; ``response`` and ``completed_at`` are set. Final.
    COMPLETED = "completed"
    #: The customer canceled it while pending. Final.
    CANCELED = "canceled"


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.COMPLETED, Status.CANCELED}),
    Status.COMPLETED: frozenset(),
    Status.CANCELED: frozenset(),
}


def can_transition(current: Status, new: Status) -> bool:
    return new in ALLOWED[current]


class Urgency(StrEnum):
    IMMEDIATE = "immediate"
    DAY = "day"
    WEEK = "week"


#: Queue order: lower first.
PRIORITY: dict[str, int] = {Urgency.IMMEDIATE: 0, Urgency.DAY: 1, Urgency.WEEK: 2}
