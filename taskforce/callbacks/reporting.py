"""What the dispatcher tells an operator about each attempt once it is saved: one log line
(delivered, will retry, gave up) and the callback metrics. Never the body, the URL's query or a
header: a callback's body is the customer's data and its headers carry their auth key."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from taskforce import metrics
from taskforce.request_log import log_event

if TYPE_CHECKING:
    from taskforce.callbacks.dispatcher import Result

log = logging.getLogger("taskforce.callbacks")


def _host(url: str) -> str:
    try:
        return urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def recorded(results: Sequence[Result], statuses: Sequence[str], *, now: int) -> None:
    """``statuses`` as ``record_many`` returned them, one per result."""
    for result, status in zip(results, statuses):
        if status == "lost":
            continue  # another dispatcher owns the row now; its own report counts
        claim, outcome = result.claim, result.outcome
        fields = dict(task_id=claim.task_id, delivery_id=claim.id, webhook_id=claim.webhook_id,
                      host=_host(claim.url), attempt=claim.attempts + 1,
                      status_code=outcome.status_code, latency_ms=outcome.latency_ms)
        if status == "delivered":
            since = (now - claim.completed_at) / 1000 if claim.completed_at is not None else None
            metrics.observe_callback("delivered", delivery_seconds=since)
            log_event(log, "callback delivered", **fields)
        elif status == "failed":
            metrics.observe_callback("given_up")
            log_event(log, "callback given up", logging.WARNING, error=outcome.error, **fields)
        else:
            metrics.observe_callback("failed")
            log_event(log, "callback failed; will retry", error=outcome.error, **fields)
