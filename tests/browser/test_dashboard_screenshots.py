"""Screenshots of the dashboard's main pages, taken by Chromium against a live server filled with
a month of plausible data. Always rendered (so a broken page fails here); written to
docs/screenshots/ only with TASKFORCE_SCREENSHOTS=1:

    TASKFORCE_SCREENSHOTS=1 .venv/bin/pytest -q tests/browser/test_dashboard_screenshots.py -k sqlite
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from taskforce import customers
from taskforce.clock import now_ms
from taskforce.models import deliveries, delivery_attempts, tasks
from taskforce.task_types import REGISTRY

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

DAY = 86_400_000
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _fill(factory, db, customer) -> dict:
    """30 days of live tasks: most completed (with a delivered callback), some pending or canceled."""
    rnd = random.Random(3)
    now = now_ms()
    made = []
    extra = {
        "categorization": {"instruction": "Is this company public or private?"},
        "transcription": {"instruction": "Copy the title and the top five posts with their comment counts."},
        "phonecall": {"instruction": "Call the store and ask for their opening hours."},
        "comparison": {"instruction": "Do these two products have the same pattern?"},
    }
    for day in range(30, -1, -1):
        for _ in range(rnd.randint(8, 30) + (30 - day) // 2):
            type_name = rnd.choice(list(extra))
            created = now - day * DAY - rnd.randint(0, DAY // 2)
            made.append(factory.task(customer, type_name, now=created,
                                     urgency=rnd.choice(["immediate", "day", "day", "week"]),
                                     **extra[type_name]))
    transcription = next(t for t in reversed(made)
                         if t["type"] == "transcription" and t["created_at"] < now - 3_600_000)
    with db.write() as conn:
        for task in made:
            roll = rnd.random()
            if task is transcription or roll < 0.06 or task["created_at"] > now - 3_600_000:
                continue  # pending
            if roll < 0.09:
                conn.execute(update(tasks).where(tasks.c.id == task["id"])
                             .values(status="canceled", canceled_at=task["created_at"] + 60_000))
                continue
            done = min(task["created_at"] + rnd.randint(3, 240) * 60_000, now)
            response = REGISTRY.get(task["type"]).simulated_response(task["id"], task["params"])
            ok = rnd.random() < 0.96
            conn.execute(update(tasks).where(tasks.c.id == task["id"]).values(
                status="completed", completed_at=done, response=response, callback_succeeded=ok))
            delivery = conn.execute(insert(deliveries).values(
                task_id=task["id"], customer_id=customer.id, webhook_id=f"msg_{task['id']}",
                url=task["callback_url"], body="{}", status="delivered" if ok else "failed",
                attempts=1 if ok else 2, next_attempt_at=done, created_at=done,
                delivered_at=done + 180 if ok else None, last_status_code=200 if ok else 502,
                last_error=None if ok else "HTTP 502 Bad Gateway")).inserted_primary_key[0]
            if not ok:
                conn.execute(insert(delivery_attempts).values(
                    delivery_id=delivery, attempted_at=done + 120, status_code=None, latency_ms=15000,
                    error="timed out after 15 s"))
            conn.execute(insert(delivery_attempts).values(
                delivery_id=delivery, attempted_at=done + 150 + (0 if ok else 30_000),
                status_code=200 if ok else 502, latency_ms=rnd.randint(40, 400),
                error=None if ok else "HTTP 502 Bad Gateway"))
    with db.write() as conn:
        # The task page shot: a transcription with a first attempt that failed, then a success.
        params = dict(transcription["params"])
        params["fields"] = {"title": "Title of the page", "top_result": "Title of the top post"}
        params["row_fields"] = {"username": "Who posted it", "comment_count": "Number of comments"}
        response = {"fields": {"title": "reddit: the front page of the internet",
                               "top_result": "TIL octopuses taste with their arms"},
                    "rows": [{"username": u, "comment_count": str(c)} for u, c in
                             [("marine_bio", 412), ("deepsea", 96), ("kraken_fan", 57), ("tidepool", 31)]]}
        done = transcription["created_at"] + 47 * 60_000
        conn.execute(update(tasks).where(tasks.c.id == transcription["id"]).values(
            status="completed", completed_at=done, response=response, params=params, callback_succeeded=True))
        delivery = conn.execute(insert(deliveries).values(
            task_id=transcription["id"], customer_id=customer.id, webhook_id="msg_shot",
            url=transcription["callback_url"], body="{}", status="delivered", attempts=2,
            next_attempt_at=done, created_at=done, delivered_at=done + 31_000, last_status_code=200)
        ).inserted_primary_key[0]
        conn.execute(insert(delivery_attempts).values(delivery_id=delivery, attempted_at=done + 200,
                                                      status_code=503, latency_ms=88,
                                                      error="HTTP 503 Service Unavailable"))
        conn.execute(insert(delivery_attempts).values(delivery_id=delivery, attempted_at=done + 31_000,
                                                      status_code=200, latency_ms=64, error=None))
    return {"transcription": transcription}


def _shoot(page, name: str, tmp_path: Path, *, full_page: bool = True) -> Path:
    target = DOCS if os.environ.get("TASKFORCE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000
    return path


def test_screenshots_of_the_main_pages(browser, server, factory, db, tmp_path):
    customer = factory.customer("Acme Robotics")
    factory.customer("Globex")
    user = factory.user("customer", email="ops@acme.test", customer_id=customer.id)
    operator = factory.user("operator", email="operator@taskforce.test")
    picked = _fill(factory, db, customer)
    with db.write() as conn:
        customers.rotate_signing_secret(conn, customer.id, grace_seconds=86_400)

    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", user["email"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/dashboard")
    _shoot(page, "dashboard-overview", tmp_path)

    page.goto(f"{server.url}/dashboard/tasks")
    _shoot(page, "dashboard-tasks", tmp_path, full_page=False)

    page.goto(f"{server.url}/dashboard/tasks/{picked['transcription']['id']}")
    assert "marine_bio" in page.content()
    _shoot(page, "dashboard-task", tmp_path)

    page.goto(f"{server.url}/dashboard/keys")
    page.click("text=Create key")
    _shoot(page, "dashboard-keys", tmp_path)

    page.goto(f"{server.url}/dashboard/callbacks")
    page.click("#signing-secret summary")
    _shoot(page, "dashboard-callbacks", tmp_path, full_page=False)
    context.close()

    context = browser.new_context(viewport={"width": 1280, "height": 760})
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", operator["email"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{server.url}/operator/customers")
    assert "Acme Robotics" in page.content()
    _shoot(page, "operator-customers", tmp_path)
    context.close()
    with db.read() as conn:
        assert conn.execute(select(tasks.c.id).where(tasks.c.customer_id == customer.id)).first()
