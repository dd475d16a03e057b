"""The operator's task page, the Set aside page and a batch callback's redelivery, in a real
browser: what a person sees and clicks, and customer text that stays text (a ``<script>`` in an
instruction does not run)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from taskforce.callbacks import dispatcher
from taskforce.clock import now_ms
from taskforce.models import deliveries, tasks
from taskforce.tasks import service, simulator
from tests.factories import PASSWORD, VALID_PARAMS

pytestmark = pytest.mark.browser

INSTRUCTION = '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2"> Public or private?'


def test_task_page_from_the_queue_shows_the_answers_and_runs_no_customer_script(page, server, factory, db, sign_in):
    customer = factory.customer("Acme <b>Corp</b>")
    task = factory.task(customer, overlap=2, instruction=INSTRUCTION, urgency="immediate")
    first, second = factory.user("worker", email="ann@example.test"), factory.user("worker", email="bob@example.test")
    with db.write() as conn:
        lease = service.claim(conn, first["id"], lease_seconds=600)
        service.complete(conn, lease.task_id, {"category": "public"}, worker_id=first["id"], lease_token=lease.token)
        service.claim(conn, second["id"], lease_seconds=600)  # bob holds it: In progress
    sign_in(factory.user("operator")["email"], PASSWORD)
    page.click(f'tr[data-task="{task["id"]}"] a:has-text("{task["id"]}")')
    page.wait_for_url(f"{server.url}/operator/tasks/{task['id']}")

    assert page.inner_text("p.instruction") == INSTRUCTION  # shown as the customer wrote it
    assert page.evaluate("window.pwned") is None
    assert page.locator("p.instruction script, p.instruction img").count() == 0
    assert "Acme <b>Corp</b>" in page.inner_text("dl.facts")
    ann = page.locator(".assignment", has_text="ann@example.test")
    assert "submitted" in ann.inner_text()
    assert ann.locator("li.chosen").inner_text().startswith("public")  # drawn by the type's partial
    assert "holding it" in page.locator(".assignment", has_text="bob@example.test").inner_text()
    assert page.locator("#response").count() == 0


def test_set_aside_page_retries_and_cancels(page, server, factory, db, sign_in, monkeypatch):
    customer = factory.customer()
    retried = factory.task(customer, is_test=True)["id"]
    canceled = factory.task(customer, is_test=True)["id"]
    real = simulator._answer

    def broken(conn, task_id, now):
        raise ValueError("cannot read it")

    monkeypatch.setattr(simulator, "_answer", broken)
    with db.write() as conn:
        simulator.complete_due(conn, now=now_ms(), delay_ms=0)
    monkeypatch.setattr(simulator, "_answer", real)
    done = factory.task(customer)
    worker = factory.user("worker")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600)
        service.complete(conn, lease.task_id, {"category": "public"}, worker_id=worker["id"], lease_token=lease.token)
        delivery_id = conn.execute(select(deliveries.c.id).where(deliveries.c.task_id == done["id"])).scalar()
        dispatcher.set_aside(conn, delivery_id, ValueError("body is <unreadable>"), now=now_ms())

    sign_in(factory.user("operator")["email"], PASSWORD)
    page.click("nav >> text=Set aside")
    page.wait_for_url(f"{server.url}/operator/set-aside")
    assert page.locator("tr[data-set-aside-task]").count() == 2
    reason = page.locator(f'tr[data-set-aside-delivery="{delivery_id}"] .set-aside-reason').inner_text()
    assert "body is <unreadable>" in reason

    page.locator(f'tr[data-set-aside-task="{retried}"] >> text=Retry').click()
    assert f"will try test task {retried} again" in page.inner_text(".flash")
    page.locator(f'tr[data-set-aside-task="{canceled}"] >> text=Cancel task').click()
    assert f"Test task {canceled} is canceled" in page.inner_text(".flash")
    assert page.locator("[data-no-set-aside-tasks]").is_visible()
    page.locator(f'tr[data-set-aside-delivery="{delivery_id}"] >> text=Retry').click()
    assert "is owed again" in page.inner_text(".flash")
    assert page.locator("[data-no-set-aside-deliveries]").is_visible()
    with db.read() as conn:
        status = dict(conn.execute(select(tasks.c.id, tasks.c.status).where(tasks.c.id.in_([retried, canceled]))).all())
        assert status == {retried: "pending", canceled: "canceled"}
        assert conn.execute(select(deliveries.c.status).where(deliveries.c.id == delivery_id)).scalar() == "pending"


def test_customer_redelivers_a_batch_callback(page, server, factory, db, settings, sign_in):
    import httpx

    from taskforce.callbacks.dispatcher import Dispatcher

    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    auth = customer.live_auth
    with httpx.Client(base_url=server.url, timeout=30) as api:
        api.post("/v1/projects", json={"type": "categorization", "name": "p", "params": {}}, auth=auth)
        api.post("/v1/batches", json={"project": "p", "name": "nightly", "callback": "http://127.0.0.1:9/b"}, auth=auth)
        made = api.post("/v1/task/categorization", json={**VALID_PARAMS["categorization"], "batch": "nightly"},
                        auth=auth).json()
        api.post("/v1/batches/nightly/finalize", auth=auth)
        api.post(f"/v1/task/{made['task_id']}/cancel", auth=auth)
    # Nothing listens on port 9: an error. In a thread of its own: Playwright's loop runs in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, Dispatcher(db, settings).run_once()).result()

    sign_in(user["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/callbacks")
    row = page.locator("tr[data-batch-delivery]")
    assert row.count() == 1
    assert "nightly" in row.inner_text() and "pending" in row.inner_text()
    assert row.locator(".error").inner_text().strip()  # the last error is shown
    row.locator("text=Redeliver").click()
    assert "The batch's callback will be sent again" in page.inner_text(".flash")
    assert page.locator("tr[data-batch-delivery]").count() == 2
    assert "superseded by a redelivery" in page.locator("tr[data-batch-delivery]").nth(1).inner_text()
