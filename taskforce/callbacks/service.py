"""Callback actions shared by the API and the dashboard: redeliver a task's callback, and send a
signed sample callback to a URL to try a receiver out."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from taskforce import batches
from taskforce.callbacks import http, outbox, signing
from taskforce.callbacks.address_policy import parse_networks
from taskforce.clock import format_ms, now_ms
from taskforce.config import Settings
from taskforce.errors import Conflict
from taskforce.models import deliveries, tasks
from taskforce.tasks import service as task_service
from taskforce.tasks.status import Status


def redeliver(conn: Connection, task_id: str, customer_id: int, *, now: int,
              is_test: bool | None = None) -> int:
    """Owe the completed task's callback once more, due now; returns the new delivery's id.

    The new delivery has its own ``webhook-id`` and a fresh body (with ``callback_succeeded``
    null again: the task is "still trying"). Earlier deliveries of the task still being retried
    are retired, so the receiver does not get the old and new ones racing each other.
    Raises NotFound for another customer's task (or the other mode's, with ``is_test``), and
    Conflict for a task that is not completed.
    """
    task = task_service.get(conn, task_id, customer_id=customer_id, is_test=is_test)
    if task["status"] != Status.COMPLETED.value:
        raise Conflict(f"task {task_id} is {task['status']}; only completed tasks have a callback")
    conn.execute(
        update(deliveries)
        .where(deliveries.c.task_id == task_id, deliveries.c.status == "pending")
        .values(status="failed", last_error="superseded by a redelivery")
    )
    conn.execute(update(tasks).where(tasks.c.id == task_id).values(callback_succeeded=None))
    task["callback_succeeded"] = None
    return outbox.enqueue(conn, task, now=now)


def redeliver_batch(conn: Connection, batch_id: int, customer_id: int, *, now: int) -> int:
    """Owe the completed batch's callback once more, due now, as ``redeliver`` does a task's (its
    own ``webhook-id``, a fresh body; earlier deliveries still being retried are retired).
    Raises NotFound for another customer's batch, Conflict for one not completed or without a
    callback URL."""
    row = batches.get_by_id(conn, batch_id, customer_id=customer_id)
    if row["status"] != batches.COMPLETED:
        raise Conflict(f"batch {row['name']!r} is {row['status']}; its callback is sent when it completes")
    if not row["callback"]:
        raise Conflict(f"batch {row['name']!r} has no callback URL")
    conn.execute(
        update(deliveries)
        .where(deliveries.c.batch_id == batch_id, deliveries.c.status == "pending")
        .values(status="failed", last_error="superseded by a redelivery")
    )
    return outbox.enqueue_batch(conn, batch_id=batch_id, customer_id=customer_id, url=row["callback"],
                                body=batches.callback_body(conn, row), now=now)


def get_delivery(conn: Connection, delivery_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).mappings().first()
    return dict(row) if row else None


def sample_body(now: int | None = None) -> bytes:
    """A callback body shaped exactly like a real one, for a task that does not exist."""
    now = now if now is not None else now_ms()
    task = {
        "task_id": "000000000000000000000000",
        "created_at": format_ms(now - 60_000),
        "callback_url": "",
        "type": "categorization",
        "status": "completed",
        "instruction": "This is a test callback from Taskforce. Is this company public or private?",
        "urgency": "day",
        "params": {"attachment_type": "website", "attachment": "https://example.com/",
                   "categories": ["public", "private"]},
        "metadata": {"test_callback": True},
        "completed_at": format_ms(now),
        "response": {"category": "public"},
        "callback_succeeded": None,
    }
    return orjson.dumps({"task": task, "response": task["response"], "task_id": task["task_id"]})


async def send_test_callback(settings: Settings, customer_row: Mapping[str, Any],
                             url: str) -> dict[str, Any]:
    """POST a sample callback to ``url`` with the customer's real headers and signature, under
    the same address policy and timeout as real callbacks. Returns ``status_code`` (None when no
    HTTP answer), ``latency_ms``, ``error`` (None on a 2xx) and ``body_excerpt``."""
    from taskforce.task_types.base import is_http_url

    if not is_http_url(url):
        return {"status_code": None, "latency_ms": 0, "body_excerpt": "",
                "error": "the URL must be an absolute http:// or https:// URL"}
    allowed = parse_networks(settings.callback_allowed_networks)
    timeout = float(settings.callback_timeout_seconds)
    body = sample_body()
    body_obj = orjson.loads(body)
    body_obj["task"]["callback_url"] = url
    body = orjson.dumps(body_obj)
    headers = signing.callback_headers(customer_row, outbox.new_webhook_id(), body,
                                       timestamp=int(time.time()), now_ms=now_ms())
    session = http.new_session(allowed, concurrency=1, timeout=timeout)
    try:
        outcome = await http.post(session, url, body, headers, allowed=allowed, timeout=timeout)
    finally:
        await session.close()
    return {"status_code": outcome.status_code, "latency_ms": outcome.latency_ms,
            "error": outcome.error, "body_excerpt": outcome.body_excerpt}
