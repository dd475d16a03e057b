"""GET /metrics on a real server: scraped before and after real work (creates over HTTP, a claim,
test tasks answered by the simulated worker and called back to a real receiver), the numbers
move by exactly what was done; the bearer token guards it; `serve --workers 2` counts every
process's requests whichever process answers the scrape."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskforce import metrics
from taskforce.config import Settings
from taskforce.tasks import service

from tests.factories import VALID_PARAMS
from tests.integration.test_callback_helpers import STARTUP_SECONDS, Receiver
from tests.integration.test_multiprocess_serve import ROOT, _free_port

@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret", run_dispatcher=True,
                    callback_allowed_networks=["127.0.0.0/8"], test_mode_delay_seconds=0.05)


def scrape(base: str, **kwargs) -> dict[tuple[str, tuple], float]:
    r = httpx.get(base + "/metrics", timeout=30, **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_by_the_work_done(server, factory, db):
    customer = factory.customer()
    before = scrape(server.url)
    body = VALID_PARAMS["categorization"]
    with Receiver() as receiver:
        for _ in range(3):
            assert httpx.post(server.url + "/v1/task/categorize", auth=customer.live_auth,
                              json={**body, "urgency": "immediate"}).status_code == 200
        for _ in range(2):
            assert httpx.post(server.url + "/v1/task/categorize", auth=customer.test_auth,
                              json={**body, "callback_url": receiver.url}).status_code == 200
        assert httpx.get(server.url + "/v1/task/" + "0" * 24, auth=customer.live_auth).status_code == 404
        receiver.wait_for(2, timeout=30)
        worker = factory.user("worker")
        with db.write() as conn:
            assert service.claim(conn, worker["id"], lease_seconds=600) is not None
        deadline = time.monotonic() + 30
        while True:  # the delivery is recorded just after the receiver answered
            after = scrape(server.url)
            # Both counted, and both rows no longer owed (the count and the row are written by
            # different steps, so a scrape can fall between them).
            if value(after, "taskforce_callback_attempts_total", result="delivered") \
                    - value(before, "taskforce_callback_attempts_total", result="delivered") >= 2 \
                    and value(after, "taskforce_callbacks_owed") == 0:
                break
            assert time.monotonic() < deadline, "deliveries never counted"
            time.sleep(0.1)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    route = dict(method="POST", route="/v1/task/categorize")
    assert moved("taskforce_http_requests_total", status="200", **route) == 5
    assert moved("taskforce_http_requests_total", method="GET", route="/v1/task/{task_id}",
                 status="404") == 1
    assert moved("taskforce_http_request_duration_seconds_count", **route) == 5
    assert moved("taskforce_tasks_created_total", type="categorization", mode="live") == 3
    assert moved("taskforce_tasks_created_total", type="categorization", mode="test") == 2
    assert moved("taskforce_tasks_completed_total", type="categorization", mode="test") == 2
    assert moved("taskforce_tasks_completed_total", type="categorization", mode="live") == 0
    # A fresh database: the gauges are absolute.
    assert value(after, "taskforce_queue_depth", urgency="immediate") == 2  # 3 created, 1 claimed
    assert value(after, "taskforce_queue_depth", urgency="day") == 0
    assert 0 < value(after, "taskforce_queue_oldest_waiting_seconds", urgency="immediate") < 60
    assert value(after, "taskforce_active_leases") == 1
    assert moved("taskforce_callback_attempts_total", result="delivered") == 2
    assert moved("taskforce_callback_attempts_total", result="failed") == 0
    assert moved("taskforce_callback_delivery_seconds_count") == 2
    assert value(after, "taskforce_callbacks_owed") == 0
    assert value(after, "taskforce_dispatcher_lag_seconds") == 0


def test_failed_and_abandoned_callbacks_are_counted(server, factory, db, settings):
    from tests.integration.test_callback_helpers import Answer

    customer = factory.customer()
    before = scrape(server.url)
    with Receiver(answer=Answer(status=410)) as receiver:
        r = httpx.post(server.url + "/v1/task/categorize", auth=customer.test_auth,
                       json={**VALID_PARAMS["categorization"], "callback_url": receiver.url})
        assert r.status_code == 200
        receiver.wait_for(1, timeout=30)
        deadline = time.monotonic() + 30
        while value(after := scrape(server.url), "taskforce_callbacks_given_up_total") \
                == value(before, "taskforce_callbacks_given_up_total"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert value(after, "taskforce_callbacks_given_up_total") - value(before, "taskforce_callbacks_given_up_total") == 1
    assert (value(after, "taskforce_callback_attempts_total", result="failed")
            - value(before, "taskforce_callback_attempts_total", result="failed")) == 1


def test_owed_and_retrying_callbacks_and_dispatcher_lag(db, factory):
    """The state read at scrape time, on a database whose callbacks are owed and late."""
    from sqlalchemy import update

    from taskforce.models import deliveries

    customer = factory.customer()
    for _ in range(3):
        task = factory.task(customer, is_test=True)
        with db.write() as conn:
            service.complete(conn, task["id"], {"category": "public"}, worker_id=None, lease_token=None)
    with db.write() as conn:
        first = conn.execute(deliveries.select().order_by(deliveries.c.id)).first()
        conn.execute(update(deliveries).where(deliveries.c.id == first.id)
                     .values(attempts=2, next_attempt_at=first.next_attempt_at - 5000))
    with db.read() as conn:
        state = metrics.read_state(conn, now=first.next_attempt_at + 1000)
    assert state.callbacks_owed == 3
    assert state.callbacks_retrying == 1
    assert state.dispatcher_lag_seconds == pytest.approx(6.0)
    assert state.created[("test", "categorization")] == 3
    assert state.completed[("test", "categorization")] == 3


def test_token_guards_metrics(db, factory, database_url):
    from starlette.testclient import TestClient

    from taskforce.app import create_app

    settings = Settings(database_url=database_url, secret_key="s", run_dispatcher=False,
                        metrics_token="s3cret-scrape")
    with TestClient(create_app(settings, db)) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", auth=("s3cret-scrape", "")).status_code == 401
        r = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
        assert r.status_code == 200 and "taskforce_queue_depth" in r.text


def test_serve_with_two_workers_counts_every_process(db, factory, tmp_path):
    customer = factory.customer()
    port = _free_port()
    env = {**os.environ, "TASKFORCE_DATABASE_URL": db.url, "TASKFORCE_SECRET_KEY": "test",
           "TASKFORCE_SECRET_FILE": str(tmp_path / "secret"), "PYTHONPATH": str(ROOT)}
    env.pop(metrics.MULTIPROC_ENV, None)
    proc = subprocess.Popen([sys.executable, "-m", "taskforce", "serve", "--workers", "2",
                             "--port", str(port), "--no-dispatcher"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, "serve exited"
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "serve did not answer"
            time.sleep(0.1)
        # No keep-alive: each request may land on either process.
        client = httpx.Client(base_url=base, auth=customer.live_auth, timeout=30,
                              limits=httpx.Limits(max_keepalive_connections=0))
        for _ in range(20):
            r = client.post("/v1/task/categorize", json=VALID_PARAMS["categorization"])
            assert r.status_code == 200
        for _ in range(6):
            samples = scrape(base)
            assert value(samples, "taskforce_http_requests_total", method="POST",
                         route="/v1/task/categorize", status="200") == 20
            assert value(samples, "taskforce_tasks_created_total", type="categorization", mode="live") == 20
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0
