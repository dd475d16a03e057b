"""The transactional outbox: a completed task's callback is owed from the same transaction that
completed it, so no crash can complete a task and lose its callback."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from taskforce import json_values, pg_wakeups, signals
from taskforce.models import deliveries
from taskforce.tasks.representation import task_object


def callback_body(task: Mapping[str, Any]) -> bytes:
    """The seed's callback payload: the task object, its response and its id."""
    obj = task_object(task)
    return json_values.dumps({"task": obj, "response": obj.get("response"), "task_id": obj["task_id"]})


def new_webhook_id() -> str:
    return "msg_" + secrets.token_hex(16)


_INSERT_DELIVERY = insert(deliveries)  # built once: it runs in every completing transaction


def enqueue(conn: Connection, task: Mapping[str, Any], *, now: int) -> int:
    """Owe one delivery of this task's callback, due now. Returns the delivery id."""
    result = conn.execute(_INSERT_DELIVERY, {
        "task_id": task["id"],
        "customer_id": task["customer_id"],
        "webhook_id": new_webhook_id(),
        "url": task["callback_url"],
        "body": callback_body(task).decode(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    })
    pg_wakeups.wake(conn, signals.TASK_COMPLETED)
    return result.inserted_primary_key[0]


def enqueue_batch(conn: Connection, *, batch_id: int, customer_id: int, url: str, body: bytes,
                  now: int) -> int:
    """Owe one delivery of a batch's completion callback, due now (batches.py)."""
    result = conn.execute(_INSERT_DELIVERY, {
        "task_id": None,
        "batch_id": batch_id,
        "customer_id": customer_id,
        "webhook_id": new_webhook_id(),
        "url": url,
        "body": body.decode(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    })
    pg_wakeups.notify(conn, signals.TASK_COMPLETED)
    return result.inserted_primary_key[0]
