"""Overlap end to end in a browser (issue 10): a task created through the API with ``overlap=3``
is answered by three workers, each signed in through the real worker pages; with the real
dispatcher running, its callback reaches a receiver on 127.0.0.1 exactly once, carrying the
combined answer (the majority's, not the last one) and the task's ``quality``."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlalchemy import select

from taskforce.models import deliveries
from tests.browser.test_dashboard import _Receiver, _wait
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def _answer_as(browser, url: str, email: str, task_id: str, key: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{url}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/work")
        page.click("text=Start working")
        page.wait_for_url(f"**/work/task/{task_id}")
        assert "Is it a listed company?" in page.inner_text("main")
        page.keyboard.press(key)  # 1: public, 2: private
        page.keyboard.press("Enter")
        page.wait_for_url(f"{url}/work")  # nothing more for this worker: they answered it
    finally:
        context.close()


def test_three_workers_answer_an_overlap_task_and_its_callback_comes_once(browser, settings, db, factory):
    from taskforce.app import create_app
    from tests.conftest import LiveServer

    receiver = _Receiver()
    app = create_app(settings.model_copy(update={"run_dispatcher": True}), db)
    customer = factory.customer()
    workers = [factory.user("worker") for _ in range(3)]
    try:
        with LiveServer(app) as live:
            created = httpx.post(f"{live.url}/v1/task/categorize", auth=customer.live_auth, json={
                "callback_url": receiver.url, "instruction": "Is it a listed company?",
                "attachment_type": "text", "attachment": "Acme Corp, NYSE: ACME",
                "categories": ["public", "private"], "overlap": 3})
            assert created.status_code == 200, created.text
            task_id = created.json()["task_id"]
            # Two say public, the last one private: the callback must carry the majority's answer.
            for worker, key in zip(workers, ("1", "1", "2"), strict=True):
                _answer_as(browser, live.url, worker["email"], task_id, key)
                if worker is not workers[-1]:
                    status = httpx.get(f"{live.url}/v1/task/{task_id}", auth=customer.live_auth).json()["status"]
                    assert status == "pending" and receiver.received == []
            _wait(lambda: len(receiver.received) == 1, timeout=20)
            time.sleep(1.5)  # long enough for a second delivery to show up, were one sent
            assert len(receiver.received) == 1
            with db.read() as conn:
                sent = conn.execute(select(deliveries.c.status).where(deliveries.c.task_id == task_id)).scalars().all()
            assert sent == ["delivered"]
            body = json.loads(receiver.received[0])
            assert body["response"] == {"category": "public"}
            assert body["task"]["task_id"] == task_id and body["task"]["status"] == "completed"
            quality = body["task"]["quality"]
            assert quality["answers"] == 3 and quality["method"] == "majority"
            assert 0.5 < quality["confidence"] < 1
            assert quality["agreement"] == {"category": pytest.approx(2 / 3, abs=1e-3)}
            assert "weights" not in quality
            # The API agrees, and /answers lists the three workers' answers.
            task = httpx.get(f"{live.url}/v1/task/{task_id}", auth=customer.live_auth).json()
            assert task["response"] == {"category": "public"} and task["quality"] == quality
            answers = httpx.get(f"{live.url}/v1/task/{task_id}/answers", auth=customer.live_auth).json()["answers"]
            assert [a["response"]["category"] for a in answers] == ["public", "public", "private"]
            assert len({a["worker"] for a in answers}) == 3
    finally:
        receiver.close()
