"""Read-only views of callbacks for the API and the customer dashboard. Every query is scoped to
a customer; times are integer milliseconds (callers format them)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from taskforce.models import batches, deliveries, delivery_attempts, tasks

_DELIVERY_COLS = (
    deliveries.c.id, deliveries.c.task_id, deliveries.c.webhook_id, deliveries.c.url,
    deliveries.c.status, deliveries.c.attempts, deliveries.c.next_attempt_at,
    deliveries.c.created_at, deliveries.c.delivered_at, deliveries.c.last_status_code,
    deliveries.c.last_error,
)


def attempts_for_task(conn: Connection, task_id: str, customer_id: int) -> list[dict[str, Any]]:
    """Every attempt to deliver this task's callbacks, oldest first.

    Keys: id, delivery_id, webhook_id, url, attempted_at, status_code, latency_ms, error,
    delivery_status. Empty when the task is not this customer's (or has no callback yet).
    """
    rows = conn.execute(
        select(delivery_attempts.c.id, delivery_attempts.c.delivery_id, deliveries.c.webhook_id,
               deliveries.c.url, delivery_attempts.c.attempted_at, delivery_attempts.c.status_code,
               delivery_attempts.c.latency_ms, delivery_attempts.c.error,
               deliveries.c.status.label("delivery_status"))
        .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
        .where(deliveries.c.task_id == task_id, deliveries.c.customer_id == customer_id)
        .order_by(delivery_attempts.c.attempted_at, delivery_attempts.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def deliveries_for_task(conn: Connection, task_id: str, customer_id: int) -> list[dict[str, Any]]:
    """This task's deliveries (one per completion or redelivery), oldest first."""
    rows = conn.execute(
        select(*_DELIVERY_COLS)
        .where(deliveries.c.task_id == task_id, deliveries.c.customer_id == customer_id)
        .order_by(deliveries.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def deliveries_for_customer(conn: Connection, customer_id: int, *, limit: int,
                            before_id: int | None = None) -> list[dict[str, Any]]:
    """The customer's deliveries, newest first; pass the last row's ``id`` as ``before_id`` for
    the next page. Keys: id, task_id, webhook_id, url, status (pending/delivered/failed),
    attempts, next_attempt_at, created_at, delivered_at, last_status_code, last_error, is_test,
    and for a batch's callback (``task_id`` null) batch_id and batch_name.
    """
    query = (
        # A batch's callback has no task: its batch says its name and mode.
        select(*_DELIVERY_COLS, func.coalesce(tasks.c.is_test, batches.c.is_test).label("is_test"),
               deliveries.c.batch_id, batches.c.name.label("batch_name"))
        .outerjoin(tasks, tasks.c.id == deliveries.c.task_id)
        .outerjoin(batches, batches.c.id == deliveries.c.batch_id)
        .where(deliveries.c.customer_id == customer_id)
        # (customer_id, created_at) is indexed; id breaks ties between rows of one millisecond.
        .order_by(deliveries.c.created_at.desc(), deliveries.c.id.desc())
        .limit(max(1, min(int(limit), 1000)))
    )
    if before_id is not None:
        anchor = conn.execute(
            select(deliveries.c.created_at).where(deliveries.c.id == before_id,
                                                  deliveries.c.customer_id == customer_id)
        ).scalar()
        if anchor is None:
            return []
        query = query.where(or_(deliveries.c.created_at < anchor,
                                and_(deliveries.c.created_at == anchor, deliveries.c.id < before_id)))
    return [dict(r) for r in conn.execute(query).mappings()]
