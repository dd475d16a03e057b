"""The test suite's own task type (tests/custom_type) in a real browser: created over HTTP, answered
by a worker with the keyboard (key 3 picks the third rating, Enter submits), then opened on the
customer's dashboard, all with no edit outside the type's folder."""

from __future__ import annotations

import httpx
import pytest

from tests.custom_type import registered_rating
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def rating():
    yield from registered_rating()


@pytest.fixture
def app(settings, db, rating):
    from taskforce.app import create_app

    return create_app(settings, db)


def test_a_worker_answers_the_custom_type_and_the_customer_sees_it(page, server, factory, sign_in):
    csp: list[str] = []
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    customer = factory.customer()
    r = httpx.post(f"{server.url}/v1/task/rating", auth=customer.live_auth, timeout=10,
                   json={"callback_url": "http://www.example.com/cb", "instruction": "Rate the subject line",
                         "text": "<script>window.__pwned=1</script> Spring sale", "scale": 4})
    assert r.status_code == 200, r.text
    task_id = r.json()["task_id"]
    worker = factory.user("worker")
    sign_in(worker["email"], PASSWORD)
    page.click("text=Start working")
    page.wait_for_url(f"**/work/task/{task_id}")
    assert "<script>" in page.inner_text(".rating-text")  # shown as text, never run
    # The type's own script and stylesheet, from its folder, allowed by the CSP.
    assert page.evaluate("document.documentElement.dataset.ratingScript") == "loaded"
    assert page.evaluate("getComputedStyle(document.querySelector('.rating-text')).borderLeftColor") == \
        "rgb(0, 128, 0)"
    page.keyboard.press("3")
    assert page.is_checked("input[name=rating][value='2']")
    assert page.inner_text("[data-rating-chosen]") == "3"
    page.fill("[data-rating-note]", "fine")
    page.keyboard.press("Enter")  # implicit submission from the note
    page.wait_for_url(f"{server.url}/work")
    assert page.evaluate("window.__pwned === undefined")
    task = httpx.get(f"{server.url}/v1/task/{task_id}", auth=customer.live_auth, timeout=10).json()
    assert task["status"] == "completed" and task["response"] == {"rating": 3, "note": "fine"}

    page.click("text=Sign out")
    page.wait_for_url(f"{server.url}/login")
    user = factory.user("customer", customer_id=customer.id)
    sign_in(user["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/tasks/{task_id}")
    assert page.inner_text("[data-rating]") == "3"
    assert page.inner_text("#response [data-rating-note]") == "fine"
    assert page.evaluate("document.documentElement.dataset.ratingScript") == "loaded"
    assert csp == []
