"""The customer's overview figures. Each is one indexed query bounded by the customer, the mode
and (except the status counts) the last 30 days, so the overview stays fast at millions of tasks.
Days are UTC days: ``created_at // 86_400_000``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from taskforce.models import deliveries, tasks
from taskforce.tasks.status import Status

DAY_MS = 86_400_000
WINDOW_DAYS = 30


@dataclass(frozen=True)
class Day:
    start_ms: int
    created: int
    completed: int


@dataclass(frozen=True)
class CallbackStats:
    delivered: int
    failed: int
    pending: int

    @property
    def rate(self) -> float | None:
        """Delivered among the callbacks that are settled; None before any settles."""
        settled = self.delivered + self.failed
        return self.delivered / settled if settled else None


@dataclass(frozen=True)
class Overview:
    counts: dict[str, int]
    days: list[Day]
    median_completion_ms: int | None
    callbacks: CallbackStats


def counts_by_status(conn: Connection, customer_id: int, is_test: bool) -> dict[str, int]:
    rows = conn.execute(
        select(tasks.c.status, func.count())
        .where(tasks.c.customer_id == customer_id, tasks.c.is_test == is_test)
        .group_by(tasks.c.status)
    ).all()
    counts = {status.value: 0 for status in Status}
    counts.update({status: n for status, n in rows})
    return counts


def _per_day(conn: Connection, column, customer_id: int, is_test: bool, since: int) -> dict[int, int]:
    day = (column // DAY_MS).label("day")
    rows = conn.execute(
        select(day, func.count())
        .where(tasks.c.customer_id == customer_id, tasks.c.is_test == is_test, column >= since)
        .group_by(day)
    ).all()
    return {int(d): n for d, n in rows}


def daily(conn: Connection, customer_id: int, is_test: bool, *, now: int,
          days: int = WINDOW_DAYS) -> list[Day]:
    """One entry per UTC day, oldest first, ending with today (days without tasks are zeros)."""
    today = now // DAY_MS
    first = today - days + 1
    created = _per_day(conn, tasks.c.created_at, customer_id, is_test, first * DAY_MS)
    completed = _per_day(conn, tasks.c.completed_at, customer_id, is_test, first * DAY_MS)
    return [Day(d * DAY_MS, created.get(d, 0), completed.get(d, 0)) for d in range(first, today + 1)]


def median_completion_ms(conn: Connection, customer_id: int, is_test: bool, *, since: int) -> int | None:
    """Median of completed_at - created_at over tasks completed since ``since``.

    Portable: count, then read the middle one or two rows of the sorted durations (SQLite has
    no percentile function)."""
    where = [tasks.c.customer_id == customer_id, tasks.c.is_test == is_test,
             tasks.c.completed_at >= since]
    n = conn.execute(select(func.count()).select_from(tasks).where(*where)).scalar_one()
    if not n:
        return None
    duration = (tasks.c.completed_at - tasks.c.created_at).label("d")
    middle = conn.execute(
        select(duration).where(*where).order_by(duration)
        .offset((n - 1) // 2).limit(1 if n % 2 else 2)
    ).scalars().all()
    return int(sum(middle) / len(middle))


def callback_stats(conn: Connection, customer_id: int, is_test: bool, *, since: int) -> CallbackStats:
    rows = conn.execute(
        select(deliveries.c.status, func.count())
        .join(tasks, tasks.c.id == deliveries.c.task_id)
        .where(deliveries.c.customer_id == customer_id, deliveries.c.created_at >= since,
               tasks.c.is_test == is_test)
        .group_by(deliveries.c.status)
    ).all()
    by_status = dict(rows)
    return CallbackStats(by_status.get("delivered", 0), by_status.get("failed", 0),
                         by_status.get("pending", 0))


def overview(conn: Connection, customer_id: int, is_test: bool, *, now: int) -> Overview:
    days = daily(conn, customer_id, is_test, now=now)
    since = days[0].start_ms
    return Overview(
        counts=counts_by_status(conn, customer_id, is_test),
        days=days,
        median_completion_ms=median_completion_ms(conn, customer_id, is_test, since=since),
        callbacks=callback_stats(conn, customer_id, is_test, since=since),
    )
