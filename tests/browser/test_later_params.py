"""Later clients' parameters in a real browser: a phone call's own choices are picked with keys
1–9 like the standard outcomes, and transcription rows asked as ``repeatable_fields`` get the same
row table (add a row with the button)."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_call_choices_and_repeatable_rows(page, server, factory, sign_in):
    customer = factory.customer()
    call = factory.task(customer, "phonecall", now=1, choices=["reached", "voicemail", "wrong number"])
    rows = factory.task(customer, "transcription", now=2, attachment_type="text", attachment="x",
                        row_fields=None, repeatable_fields={"user": "User", "score": "Score"})
    sign_in(factory.user("worker")["email"], PASSWORD)
    page.click("text=Start working")

    page.wait_for_url(f"**/work/task/{call['id']}")
    assert page.locator("input[name=outcome]").count() == 3
    assert "No pickup" not in page.inner_text("main")
    page.keyboard.press("2")
    assert page.is_checked("input[name=outcome][value='1']")
    page.keyboard.press("Enter")

    page.wait_for_url(f"**/work/task/{rows['id']}")
    page.fill("input[name=field-0]", "Front page")
    page.fill("input[name=field-1]", "A cat")
    page.fill("input[name=row-0-0]", "ann")
    page.click("[data-add-row]")
    page.fill("[data-rows] tr:nth-child(2) input >> nth=0", "bob")
    page.fill("[data-rows] tr:nth-child(2) input >> nth=1", "7")
    page.click("[data-submit]")
    page.wait_for_url(f"{server.url}/work")

    def response(task_id):
        return httpx.get(f"{server.url}/v1/task/{task_id}", auth=customer.live_auth, timeout=10).json()["response"]

    assert response(call["id"]) == {"outcome": "voicemail", "fields": {"email": ""}}
    assert response(rows["id"]) == {"fields": {"title": "Front page", "top_result": "A cat"},
                                    "rows": [{"user": "ann", "score": ""}, {"user": "bob", "score": "7"}]}
