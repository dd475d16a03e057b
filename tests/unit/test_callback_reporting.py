"""What the dispatcher reports once an attempt is saved: one log line per outcome, the callback
counters moved by one, completion→delivery latency observed for deliveries only, and never the
URL's path or query, the body or a header."""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY

from taskforce.callbacks import reporting
from taskforce.callbacks.dispatcher import Claim, Result
from taskforce.callbacks.http import Outcome


def _claim(n: int) -> Claim:
    return Claim(id=n, task_id=f"{n:024x}", webhook_id=f"msg_{n}",
                 url="https://hooks.example.com/cb?token=s3cret", body=b'{"secret": "body"}',
                 attempts=2, token=0, customer={"callback_auth_key": "authkey-s3cret"},
                 completed_at=1_000)


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels or None) or 0.0


def test_each_outcome_is_logged_and_counted(caplog):
    results = [Result(_claim(1), Outcome(200, 12, None), 5_000),
               Result(_claim(2), Outcome(500, 30, "HTTP 500"), 5_000),
               Result(_claim(3), Outcome(None, 15_000, "timed out"), 5_000),
               Result(_claim(4), Outcome(200, 5, None), 5_000)]
    delivered = _value("taskforce_callback_attempts_total", result="delivered")
    failed = _value("taskforce_callback_attempts_total", result="failed")
    given_up = _value("taskforce_callbacks_given_up_total")
    latency = _value("taskforce_callback_delivery_seconds_count")
    latency_sum = _value("taskforce_callback_delivery_seconds_sum")
    with caplog.at_level(logging.INFO, logger="taskforce.callbacks"):
        reporting.recorded(results, ["delivered", "pending", "failed", "lost"], now=6_000)
    assert _value("taskforce_callback_attempts_total", result="delivered") - delivered == 1
    assert _value("taskforce_callback_attempts_total", result="failed") - failed == 2
    assert _value("taskforce_callbacks_given_up_total") - given_up == 1
    assert _value("taskforce_callback_delivery_seconds_count") - latency == 1
    assert _value("taskforce_callback_delivery_seconds_sum") - latency_sum == 5.0
    messages = [(r.levelname, r.getMessage(), r.fields) for r in caplog.records]
    assert [m[:2] for m in messages] == [("INFO", "callback delivered"),
                                         ("INFO", "callback failed; will retry"),
                                         ("WARNING", "callback given up")]
    assert messages[0][2]["host"] == "hooks.example.com" and messages[0][2]["attempt"] == 3
    text = repr(messages)
    for secret in ("s3cret", "body", "authkey"):
        assert secret not in text
