"""Every dashboard and operator page fits a 390 px phone (issue 13, item 15): nothing makes the
page wider than the screen — the top bar wraps, tables scroll inside their own box, a
400-character word breaks — and the customer's task page shows the instruction's line breaks and
params and metadata as written (item 16)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from taskforce.callbacks import dispatcher
from taskforce.clock import now_ms
from taskforce.models import deliveries
from taskforce.task_types import REGISTRY
from taskforce.tasks import service, simulator

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LONG_WORD = "x" * 400


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def _sign_in(page, server, email: str) -> None:
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _overflow(page) -> dict:
    """How far the page is wider than the screen, and which elements stick out."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const out = [];
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.width && r.right > width + 1) {
                // Inside a box that scrolls by itself: fine.
                let p = el.parentElement, scrolls = false;
                while (p && p !== document.body) {
                    const s = getComputedStyle(p);
                    if (['auto', 'scroll'].includes(s.overflowX) && p.getBoundingClientRect().right <= width + 1) { scrolls = true; break; }
                    p = p.parentElement;
                }
                if (!scrolls) out.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' ' + Math.round(r.right));
            }
        }
        return {scrollWidth: document.documentElement.scrollWidth, width, out: out.slice(0, 8)};
    }""")


def _fits(page, server, path: str) -> None:
    response = page.goto(f"{server.url}{path}")
    assert response.status == 200, (path, response.status)
    page.wait_for_load_state("networkidle")
    got = _overflow(page)
    assert got["scrollWidth"] <= PHONE["width"] and not got["out"], (path, got)


def test_every_customer_page_fits_a_phone(phone, server, factory, db):
    customer = factory.customer("a customer with a rather long name for a phone screen")
    user = factory.user("customer", customer_id=customer.id,
                        email="someone.with.a.long.address@a-long-company-name.example.test")
    instruction = f"Read this:\n{LONG_WORD}\nthen answer"
    long_url = "http://example.com/" + "a" * 300
    tasks = [
        factory.task(customer, "categorization", instruction=instruction, callback_url=long_url,
                     metadata={"note": LONG_WORD, "arabic": "مرحبا", "html": "<b>bold</b>"}),
        factory.task(customer, "transcription", is_test=True,
                     fields={f"field_{i}": f"Field {i} " * 5 for i in range(6)},
                     row_fields={f"column_{i}": f"Column {i}" for i in range(8)}),
        factory.task(customer, "comparison", is_test=True),
        factory.task(customer, "phonecall", is_test=True),
    ]
    for task in tasks[1:]:
        answer = REGISTRY.get(task["type"]).simulated_response(task["id"], task["params"])
        with db.write() as conn:
            service.complete(conn, task["id"], answer, worker_id=None, lease_token=None, now=now_ms())
    _sign_in(phone, server, user["email"])
    for path in ["/dashboard", "/dashboard?mode=test", "/dashboard/tasks", "/dashboard/keys",
                 "/dashboard/callbacks", *(f"/dashboard/tasks/{t['id']}" for t in tasks)]:
        _fits(phone, server, path)

    # Item 16: the instruction keeps its line breaks; params and metadata read as written.
    phone.goto(f"{server.url}/dashboard/tasks/{tasks[0]['id']}")
    shown = phone.locator(".instruction").inner_text()
    assert shown.split("\n") == ["Read this:", LONG_WORD, "then answer"]
    metadata = phone.locator("pre.metadata").inner_text()
    assert "مرحبا" in metadata and "<b>bold</b>" in metadata and "\\u" not in metadata
    assert metadata.index('"note"') < metadata.index('"arabic"') < metadata.index('"html"')  # as sent
    params = phone.locator("pre.params").inner_text()
    assert params.index('"attachment_type"') < params.index('"attachment"') < params.index('"categories"')


def test_every_operator_page_fits_a_phone(phone, server, factory, db, monkeypatch):
    operator = factory.user("operator", email="the.operator.with.a.long.address@a-long-company.example.test")
    for i in range(3):
        factory.user("worker", email=f"worker.number.{i}.with.a.long.address@example.test")
        customer = factory.customer(f"customer number {i} with a long name")
        factory.user("customer", customer_id=customer.id)
        task = factory.task(customer, "categorization", instruction=LONG_WORD,
                            attachment=f"http://img.example.test/{LONG_WORD}.png")
        worker = factory.user("worker", email=f"skipper.{i}.with.a.long.address@example.test")
        with db.write() as conn:  # a skip with a long reason, and a flagged attachment
            service.release(conn, task["id"], worker["id"], "no-lease", skip=True,
                            reason=f"other: {LONG_WORD}" if i else "attachment broken")
    # A test task the simulated worker set aside, and a callback the dispatcher set aside.
    aside = factory.task(customer, "categorization", is_test=True, instruction=LONG_WORD)
    monkeypatch.setattr(simulator, "_answer", lambda conn, task_id, now: 1 / 0)
    answerer = factory.user("worker", email="answerer.with.a.long.address@example.test")
    with db.write() as conn:
        simulator.complete_due(conn, now=now_ms(), delay_ms=0)
        assert [t["id"] for t in simulator.set_aside(conn)] == [aside["id"]]
        lease = service.claim(conn, answerer["id"], lease_seconds=600)
        service.complete(conn, lease.task_id, {"category": "public"}, worker_id=answerer["id"],
                         lease_token=lease.token)
        delivery_id = conn.execute(select(deliveries.c.id).where(deliveries.c.task_id == lease.task_id)).scalar()
        dispatcher.set_aside(conn, delivery_id, ValueError(LONG_WORD), now=now_ms())
    _sign_in(phone, server, operator["email"])
    for path in ["/operator", "/operator/workers", "/operator/queue", "/operator/customers",
                 "/operator/skips", "/operator/set-aside", f"/operator/tasks/{lease.task_id}"]:
        _fits(phone, server, path)


def test_sign_in_pages_fit_a_phone(phone, server):
    for path in ["/login", "/signup"]:
        response = phone.goto(f"{server.url}{path}")
        if response.status == 404:  # self sign-up off
            continue
        got = _overflow(phone)
        assert got["scrollWidth"] <= PHONE["width"] and not got["out"], (path, got)


def test_worker_pages_still_fit_a_phone(phone, server, factory):
    """They already did; the shared rules above must not undo it (a transcription's row table)."""
    worker = factory.user("worker", email="a.worker.with.a.rather.long.address@example.test")
    customer = factory.customer()
    for type_name in ("transcription", "categorization", "comparison", "phonecall"):
        factory.task(customer, type_name, instruction=f"Do this:\n{LONG_WORD}")
    _sign_in(phone, server, worker["email"])
    _fits(phone, server, "/work")
    phone.click("text=Start working")
    for _ in range(4):
        phone.wait_for_load_state("networkidle")
        assert "/work/task/" in phone.url
        got = _overflow(phone)
        assert got["scrollWidth"] <= PHONE["width"] and not got["out"], (phone.url, got)
        phone.click("[data-skip]")


def test_review_page_fits_a_phone(phone, server, factory, db):
    from tests.integration.test_operator_quality import waiting_for_review

    from taskforce.tasks import extras
    from tests.integration.test_gold import answer, claim

    waiting_for_review(db, factory, instruction=LONG_WORD)
    # An answer the customer rejected, with a long reason, waits there too.
    customer = factory.customer()
    rejected = factory.task(customer, instruction=LONG_WORD)
    worker = factory.user("worker")
    answer(db, claim(db, worker, rate=0.0), worker, "public")
    with db.write() as conn:
        extras.audit(conn, rejected["id"], False, LONG_WORD, customer_id=customer.id, is_test=False)
    operator = factory.user("operator", email="the.operator.with.a.long.address@a-long-company.example.test")
    _sign_in(phone, server, operator["email"])
    _fits(phone, server, "/operator/review")
    assert phone.locator(f'[data-rejected-task="{rejected["id"]}"]').count() == 1
