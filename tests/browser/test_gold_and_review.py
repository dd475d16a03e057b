"""Gold and Review through the real pages in a browser: a gold task, looking like any task,
scores the worker; below the threshold they stop getting real tasks (gold still comes) until the
operator reinstates them; a disagreeing task waits in Review and the operator's choice goes out
in the task's callback, once."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from taskforce.models import deliveries, tasks
from taskforce.quality import gold
from tests.factories import PASSWORD
from tests.integration.test_gold import make_gold
from tests.integration.test_operator_quality import waiting_for_review

pytestmark = pytest.mark.browser


def test_gold_scores_a_worker_who_is_paused_then_reinstated(page, browser, server, factory, db, sign_in):
    customer = factory.customer()
    with db.write() as conn:
        gold.set_rules(conn, min_accuracy=0.6, min_answers=1)
    first = make_gold(db, customer, category="public", attachment_type="text", attachment="gold one")
    second = make_gold(db, customer, category="public", attachment_type="text", attachment="gold two",
                       now=first["created_at"] + 1)
    real = factory.task(customer, attachment_type="text", attachment="a real task")
    worker = factory.user("worker", email="goldie@example.test")
    sign_in(worker["email"], PASSWORD)
    # A new worker's first claim is gold's turn (TASKFORCE_GOLD_RATE 0.1: one claim in ten).
    page.click("text=Start working")
    page.wait_for_url(f"**/work/task/{first['id']}")
    body = page.inner_text("main")
    assert "gold one" in body and "gold" not in body.replace("gold one", "").lower()
    page.keyboard.press("2")  # "private": wrong
    page.keyboard.press("Enter")
    # Paused: the next task is the other gold one, not the real task.
    page.wait_for_url(f"**/work/task/{second['id']}")
    page.keyboard.press("1")  # right, but 1 of 2 is still below 60%
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/work")
    assert "No tasks are waiting" in page.inner_text("main")

    operator = browser.new_context().new_page()
    operator.goto(f"{server.url}/login")
    operator.fill("input[name=email]", factory.user("operator")["email"])
    operator.fill("input[name=password]", PASSWORD)
    operator.click("button[type=submit]")
    operator.goto(f"{server.url}/operator/workers")
    row = operator.locator('tr[data-worker="goldie@example.test"]')
    text = row.inner_text()
    assert "gold 1/2 (50%" in text and "paused from real tasks" in text
    row.locator("text=Reinstate").click()
    assert "gets real tasks again" in operator.inner_text(".flash")
    operator.context.close()

    page.click("text=Start working")
    page.wait_for_url(f"**/work/task/{real['id']}")


def test_a_disagreeing_task_is_decided_in_review_and_its_callback_goes_out(page, server, factory, db, sign_in):
    task, workers = waiting_for_review(db, factory, instruction="<script>window.__pwned=1</script>Decide")
    sign_in(factory.user("operator")["email"], PASSWORD)
    page.click("nav >> text=Review")
    card = page.locator(f'[data-review-task="{task["id"]}"]')
    assert workers[1]["email"] in card.inner_text()
    assert page.evaluate("window.__pwned") is None
    card.locator(f'label:has-text("{workers[1]["email"]}") input[type=radio]').check()
    card.locator("text=Accept the chosen answer").click()
    assert "completed with the answer you accepted" in page.inner_text(".flash")
    assert page.locator("[data-review-empty]").count() == 1
    with db.read() as conn:
        row = conn.execute(select(tasks.c.status, tasks.c.response).where(tasks.c.id == task["id"])).one()
        bodies = conn.execute(select(deliveries.c.body).where(deliveries.c.task_id == task["id"])).scalars().all()
    assert row.status == "completed" and row.response == {"category": "private"}
    assert len(bodies) == 1
    assert json.loads(bodies[0])["response"] == {"category": "private"}
