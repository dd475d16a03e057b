"""Gold and Review through the real pages in a browser: a gold task, looking like any task,
scores the worker; below the threshold they stop getting real tasks (gold still comes) until the
operator reinstates them; a disagreeing task waits in Review and the operator's choice goes out
in the task's callback, once."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from taskforce.models import assignments, deliveries, tasks
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


def test_a_worker_draws_on_an_annotation_gold_task_and_is_scored(page, server, factory, db, sign_in):
    """An annotation gold task opens the drawing tool like any annotation task; boxes drawn over
    the objects score right, a box elsewhere scores wrong."""
    from taskforce.task_types import REGISTRY
    from tests.browser.annotation_harness import OBJECTS, serve
    from tests.browser.test_annotation_tool import drag

    task_type = REGISTRY.get("annotation")
    customer = factory.customer()
    with serve() as harness:
        params = task_type.parse({"callback_url": "http://www.example.com/cb", "with_labels": True,
                                  "attachment": f"{harness.url}/image.png", "objects_to_annotate": ["red", "blue"]})
        expected = [{"left": left, "top": top, "width": w, "height": h, "label": label}
                    for (left, top, w, h, _), label in zip(OBJECTS, ("red", "blue"))]
        with db.write() as conn:
            made = gold.create(conn, customer_id=customer.id, is_test=False, task_type=task_type, params=params,
                               expected={"annotations": expected})
        page.set_viewport_size({"width": 1100, "height": 800})
        workers = [factory.user("worker") for _ in range(2)]
        for worker, right in zip(workers, (True, False)):
            page.context.clear_cookies()
            sign_in(worker["email"], PASSWORD)
            page.click("text=Start working")  # a new worker's first claim is gold's turn
            page.wait_for_url(f"**/work/task/{made['id']}")
            page.wait_for_selector(".annotator.ready")
            assert "gold" not in page.inner_text("main").lower()
            left, top, w, h, _ = OBJECTS[0]
            page.keyboard.press("1")
            drag(page, (left, top), (left + w, top + h))
            page.keyboard.press("2")
            left, top, w, h, _ = OBJECTS[1] if right else OBJECTS[3]  # the blue object, or somewhere else
            drag(page, (left, top), (left + w, top + h))
            page.keyboard.press("Control+Enter")
            page.wait_for_url(f"{server.url}/work")
    with db.read() as conn:
        scored = dict(conn.execute(select(assignments.c.worker_id, assignments.c.gold_correct)
                                   .where(assignments.c.task_id == made["id"])).all())
        status = conn.execute(select(tasks.c.status).where(tasks.c.id == made["id"])).scalar_one()
    assert scored == {workers[0]["id"]: True, workers[1]["id"]: False}
    assert status == "pending"


def test_a_rejected_answer_is_corrected_in_review_and_its_callback_goes_out(page, server, factory, db, sign_in):
    """The customer rejects a completed task's answer with a reason; the operator sees both on
    the Review page, corrects the response, and the corrected task goes out in a new callback."""
    import httpx

    from tests.integration.test_audit_review import completed

    customer = factory.customer()
    task = completed(db, factory, customer, category="private")
    reason = "<script>window.__pwned=1</script>It is listed on NASDAQ"
    r = httpx.post(f"{server.url}/v1/task/{task['id']}/audit", json={"accepted": False, "comments": reason},
                   auth=customer.live_auth, timeout=10)
    assert r.status_code == 200, r.text
    sign_in(factory.user("operator")["email"], PASSWORD)
    page.click("nav >> text=Review")
    card = page.locator(f'[data-rejected-task="{task["id"]}"]')
    assert reason in card.locator("[data-customer-comments]").inner_text()
    assert page.evaluate("window.__pwned") is None
    card.locator("textarea[name=response]").fill('{"category": "public"}')
    card.locator("text=Send the corrected response").click()
    assert "a new callback is on its way" in page.inner_text(".flash")
    assert page.locator("[data-review-empty]").count() == 1
    with db.read() as conn:
        bodies = conn.execute(select(deliveries.c.body).where(deliveries.c.task_id == task["id"])
                              .order_by(deliveries.c.id)).scalars().all()
    assert len(bodies) == 2
    sent = json.loads(bodies[1])
    assert sent["response"] == {"category": "public"} and sent["task"]["customer_review_status"] == "fixed"
