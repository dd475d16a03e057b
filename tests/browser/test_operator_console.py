"""The operator in a real browser: create a worker, deactivate them (who then cannot sign in),
see the queue and release a stuck lease."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from taskforce.models import assignments, tasks
from taskforce.tasks import service
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_create_and_deactivate_a_worker(page, browser, server, factory, sign_in):
    sign_in(factory.user("operator")["email"], PASSWORD)
    assert page.url == f"{server.url}/operator/queue"
    page.click("nav >> text=Workers")
    page.fill(".create-worker input[name=email]", "newbie@example.test")
    page.fill(".create-worker input[name=password]", "first password")
    page.click(".create-worker button")
    assert "Worker newbie@example.test created" in page.inner_text(".flash")
    row = page.locator('tr[data-worker="newbie@example.test"]')
    assert "active" in row.inner_text()

    # The new worker signs in, in a browser of their own.
    other = browser.new_context()
    worker_page = other.new_page()
    worker_page.goto(f"{server.url}/login")
    worker_page.fill("input[name=email]", "newbie@example.test")
    worker_page.fill("input[name=password]", "first password")
    worker_page.click("button[type=submit]")
    worker_page.wait_for_url(f"{server.url}/work")

    row.locator("text=Deactivate").click()
    assert "is deactivated" in page.inner_text(".flash")
    assert "deactivated" in page.locator('tr[data-worker="newbie@example.test"]').inner_text()

    # Their open session ends at once, and they cannot sign in again.
    worker_page.goto(f"{server.url}/work")
    assert worker_page.url == f"{server.url}/login"
    worker_page.fill("input[name=email]", "newbie@example.test")
    worker_page.fill("input[name=password]", "first password")
    worker_page.click("button[type=submit]")
    worker_page.wait_for_load_state()
    assert "Wrong email or password" in worker_page.content()
    other.close()

    # Reactivated with a new password, they are back.
    page.locator('tr[data-worker="newbie@example.test"] input[name=password]').fill("second password")
    page.locator('tr[data-worker="newbie@example.test"] >> text=Reset password').click()
    assert "New password set" in page.inner_text(".flash")
    page.locator('tr[data-worker="newbie@example.test"] >> text=Reactivate').click()
    assert "can sign in again" in page.inner_text(".flash")


def test_queue_page_and_releasing_a_stuck_lease(page, server, factory, db, sign_in):
    customer = factory.customer()
    factory.task(customer, urgency="immediate")
    factory.task(customer, "transcription", urgency="week")
    worker = factory.user("worker", email="stuck@example.test")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600)
    sign_in(factory.user("operator")["email"], PASSWORD)
    assert page.inner_text("[data-waiting]") == "1"
    assert page.inner_text("[data-in-progress]") == "1"
    assert page.locator('tr[data-urgency="week"]').inner_text().split()[-1] == "1"
    held = page.locator(f'tr[data-task="{lease.task_id}"]')
    assert "stuck@example.test" in held.inner_text()
    held.locator("text=Release").click()
    assert "is back in the queue" in page.inner_text(".flash")
    assert page.inner_text("[data-waiting]") == "2"
    assert page.locator(f'tr[data-task="{lease.task_id}"]').count() == 0
    with db.read() as conn:
        assert conn.execute(select(assignments.c.outcome).where(
            assignments.c.lease_token == lease.token)).scalar() == "released"
        assert conn.execute(select(tasks.c.leases_open).where(tasks.c.id == lease.task_id)).scalar() == 0
