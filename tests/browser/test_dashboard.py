"""The customer dashboard and the operator's Customers page in a real browser (Chromium through
Playwright) against a live server on 127.0.0.1."""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from sqlalchemy import select

from taskforce import customers
from taskforce.clock import now_ms
from taskforce.models import deliveries
from taskforce.tasks import service

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def acme(factory):
    customer = factory.customer("acme")
    return customer, factory.user("customer", customer_id=customer.id)


@pytest.fixture
def csp_errors(page):
    """Console messages about the Content-Security-Policy: there must be none."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if "Content Security Policy" in msg.text else None)
    return seen


def _complete(db, task: dict, answer: dict) -> None:
    with db.write() as conn:
        service.complete(conn, task["id"], answer, worker_id=None, lease_token=None, now=now_ms())


def test_sign_in_and_move_around(page, server, acme, sign_in, csp_errors):
    sign_in(acme[1]["email"], PASSWORD)
    assert page.url == f"{server.url}/dashboard"
    assert page.locator("h1").first.inner_text().startswith("Overview")
    for label, path in [("Tasks", "/dashboard/tasks"), ("API keys", "/dashboard/keys"),
                        ("Callbacks", "/dashboard/callbacks"), ("Overview", "/dashboard")]:
        page.click(f".topbar nav >> text={label}")
        page.wait_for_url(f"{server.url}{path}")
        assert page.locator(".topbar nav a.active").inner_text() == label
    page.click(".mode-switch >> text=Test")
    assert "test tasks" in page.locator("h1").inner_text()
    page.click("text=Sign out")
    page.wait_for_url(f"{server.url}/login")
    page.goto(f"{server.url}/dashboard/keys")
    assert page.url == f"{server.url}/login"
    assert csp_errors == []


def test_create_and_revoke_a_key_and_the_api_refuses_it(page, browser, server, acme, sign_in, csp_errors):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(acme[1]["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/keys")
    page.select_option("select[name=mode]", "live")
    page.click("text=Create key")
    key = page.inner_text("#new-key")
    assert re.fullmatch(r"live_[0-9a-f]{40}", key)
    page.click(".new-key button[data-copy]")
    page.wait_for_selector(".new-key button.copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert httpx.get(f"{server.url}/v1/tasks", auth=(key, "")).status_code == 200

    page.reload()  # shown once: after a reload only the prefix and the last four remain
    assert key not in page.content()
    row = page.locator(f'tr[data-prefix="{key[:13]}"]')
    assert f"{key[:13]}…{key[-4:]}" in row.inner_text()
    row.locator("text=Revoke").click()
    page.wait_for_load_state()
    assert "revoked" in page.inner_text(".flash")
    assert "revoked" in page.locator(f'tr[data-prefix="{key[:13]}"]').inner_text()
    refused = httpx.get(f"{server.url}/v1/tasks", auth=(key, ""))
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    assert csp_errors == []


def test_reveal_copy_and_rotate_the_signing_secret(page, server, acme, sign_in, db, csp_errors):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.on("dialog", lambda dialog: dialog.accept())
    with db.read() as conn:
        old = customers.find_customer(conn, str(acme[0].id))["signing_secret"]
    sign_in(acme[1]["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/callbacks")
    # The test callback's URL box has a label (its accessible name).
    assert page.get_by_label("URL", exact=True).get_attribute("name") == "url"
    assert not page.is_visible("#signing-secret-value")
    page.click("#signing-secret summary")
    assert page.inner_text("#signing-secret-value") == old
    page.click("#signing-secret button[data-copy]")
    page.wait_for_selector("#signing-secret button.copied")
    assert page.evaluate("navigator.clipboard.readText()") == old

    page.click("#signing-secret >> text=Rotate")
    page.wait_for_selector("#previous-secret-note")
    with db.read() as conn:
        row = customers.find_customer(conn, str(acme[0].id))
    assert row["signing_secret"] != old and row["previous_signing_secret"] == old
    note = page.inner_text("#previous-secret-note")
    until = time.strftime("%Y-%m-%d %H:%M", time.gmtime(row["previous_secret_expires_at"] / 1000))
    assert f"still valid until {until}" in note
    page.click("#previous-secret summary")
    assert page.inner_text("#previous-secret-value") == old
    page.click("#signing-secret summary")
    assert page.inner_text("#signing-secret-value") == row["signing_secret"]
    assert csp_errors == []


def test_filter_tasks_and_page_through(page, server, acme, factory, sign_in):
    customer = acme[0]
    base = now_ms() - 3 * 86_400_000
    cats = [factory.task(customer, now=base + i) for i in range(52)]
    calls = [factory.task(customer, "phonecall", urgency="week", now=base + 1000 + i) for i in range(2)]
    sign_in(acme[1]["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/tasks")
    ids = page.locator("table.tasks tbody a.mono").all_inner_texts()
    assert len(ids) == 50 and ids[:2] == [calls[1]["id"], calls[0]["id"]]
    page.click("text=Older »")
    assert page.locator("table.tasks tbody a.mono").all_inner_texts() == [t["id"] for t in reversed(cats[:4])]
    page.click("text=« Newest")

    page.select_option("select[name=type]", "phonecall")
    page.click("text=Filter")
    assert set(page.locator("table.tasks tbody a.mono").all_inner_texts()) == {t["id"] for t in calls}
    assert "type=phonecall" in page.url
    page.select_option("select[name=type]", "")
    page.select_option("select[name=status]", "canceled")
    page.click("text=Filter")
    assert "No tasks match." in page.inner_text("table.tasks")
    page.click("text=Clear")
    page.fill("input[name=from]", "2020-01-01")
    page.fill("input[name=to]", "2020-01-31")
    page.click("text=Filter")
    assert "No tasks match." in page.inner_text("table.tasks")


def test_find_a_task_by_id_unique_id_or_metadata_and_name_a_key(page, server, acme, factory, sign_in):
    customer = acme[0]
    plain = factory.task(customer, now=1000)
    unique = factory.task(customer, now=2000, unique_id="invoice-9")
    tagged = factory.task(customer, now=3000, metadata={"store": "<b>north</b>"})
    sign_in(acme[1]["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/tasks")
    for text, expected in ((plain["id"], [plain["id"]]), ("invoice-9", [unique["id"]]),
                           ("store=<b>north</b>", [tagged["id"]]), ("<b>north</b>", [tagged["id"]]),
                           ("nothing-like-it", [])):
        page.fill("input[name=q]", text)
        page.press("input[name=q]", "Enter")
        page.wait_for_load_state()
        assert page.locator("table.tasks tbody a.mono").all_inner_texts() == expected, text
        assert page.input_value("input[name=q]") == text
    assert "No tasks match." in page.inner_text("table.tasks")
    assert "newest 10,000" in page.inner_text("[data-search-note]")
    page.click("text=Show all tasks")
    assert len(page.locator("table.tasks tbody a.mono").all_inner_texts()) == 3

    page.goto(f"{server.url}/dashboard/keys")
    page.fill("input[name=name]", "Nightly <import>")
    page.click("text=Create key")
    key = page.inner_text("#new-key")
    assert page.locator(f'tr[data-prefix="{key[:13]}"] .key-name').inner_text() == "Nightly <import>"


def test_open_a_completed_task(page, server, acme, factory, db, sign_in):
    task = factory.task(acme[0], is_test=True, categories=["cat", "dog", "bird"])
    _complete(db, task, {"category": "dog"})
    sign_in(acme[1]["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/tasks?mode=test")
    page.click(f"text={task['id']}")
    page.wait_for_url(f"{server.url}/dashboard/tasks/{task['id']}")
    assert page.inner_text("#task-status") == "completed"
    assert page.inner_text("#response ul.choices li.chosen").startswith("dog")
    assert page.locator("#response ul.choices li").count() == 3
    assert "Cancel task" not in page.content()


def test_cancel_a_task(page, server, acme, factory, sign_in, client):
    page.on("dialog", lambda dialog: dialog.accept())
    task = factory.task(acme[0])
    sign_in(acme[1]["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/tasks/{task['id']}")
    page.click("text=Cancel task")
    page.wait_for_selector("text=Task canceled.")
    assert page.inner_text("#task-status") == "canceled"
    assert httpx.get(f"{server.url}/v1/task/{task['id']}", auth=acme[0].live_auth).json()["status"] == "canceled"


class _Receiver:
    """A callback receiver on a loopback port that records what it got and answers 200."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                received.append(self.rfile.read(int(self.headers["content-length"])))
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def test_redeliver_a_callback(page, settings, db, acme, factory):
    """With the real dispatcher running: a completed task's callback is delivered, the attempt
    shows on the task page, and Redeliver sends it once more."""
    from taskforce.app import create_app
    from tests.conftest import LiveServer

    receiver = _Receiver()
    app = create_app(settings.model_copy(update={"run_dispatcher": True}), db)
    try:
        with LiveServer(app) as live:
            task = factory.task(acme[0], is_test=True, callback_url=receiver.url)
            _complete(db, task, {"category": "public"})
            app.state.taskforce.signals.publish("task_completed")
            page.goto(f"{live.url}/login")
            page.fill("input[name=email]", acme[1]["email"])
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{live.url}/dashboard")
            _wait(lambda: len(receiver.received) == 1)
            page.goto(f"{live.url}/dashboard/tasks/{task['id']}")
            _wait(lambda: _reload_rows(page) == 1)
            assert "200" in page.inner_text("#callback-attempts tbody tr")

            page.click("text=Redeliver callback")
            page.wait_for_selector("text=sent again")
            _wait(lambda: len(receiver.received) == 2)
            _wait(lambda: _reload_rows(page) == 2)
            with db.read() as conn:
                statuses = conn.execute(select(deliveries.c.status).where(deliveries.c.task_id == task["id"])
                                        .order_by(deliveries.c.id)).scalars().all()
            assert statuses == ["delivered", "delivered"]
    finally:
        receiver.close()


def _reload_rows(page) -> int:
    page.reload()
    return page.locator("#callback-attempts tbody tr:not(:has(td.empty))").count()


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_operator_customers_page_and_self_signup(page, browser, server, factory, sign_in, db):
    sign_in(factory.user("operator")["email"], PASSWORD)
    page.goto(f"{server.url}/operator/queue")
    page.click("header nav >> text=Customers")  # the menu names every operator page
    page.wait_for_url(f"{server.url}/operator/customers")
    page.fill("#create-customer input[name=name]", "Hooli")
    page.fill("#create-customer input[name=email]", "gavin@hooli.test")
    page.click("text=Create customer")
    assert "Customer Hooli created" in page.inner_text(".flash")
    password = page.inner_text("#invited-password")
    assert "Hooli" in page.inner_text("table.customers")

    with db.read() as conn:
        hooli = customers.find_customer(conn, "Hooli")["id"]
    page.select_option("#invite-user select[name=customer_id]", str(hooli))
    page.fill("#invite-user input[name=email]", "richard@hooli.test")
    page.fill("#invite-user input[name=password]", "pied piper!")
    page.click("#invite-user >> text=Invite")
    assert "Invited richard@hooli.test to Hooli" in page.inner_text(".flash")

    assert page.inner_text("#signup-state") == "off"
    page.click("#signup-switch >> text=Turn on")
    assert page.inner_text("#signup-state") == "on"

    # The invited user signs in; then a stranger signs up, each in a browser of their own.
    for email, secret in [("gavin@hooli.test", password), ("richard@hooli.test", "pied piper!")]:
        other = browser.new_context()
        tab = other.new_page()
        tab.goto(f"{server.url}/login")
        tab.fill("input[name=email]", email)
        tab.fill("input[name=password]", secret)
        tab.click("button[type=submit]")
        tab.wait_for_url(f"{server.url}/dashboard")
        other.close()
    stranger = browser.new_context()
    tab = stranger.new_page()
    tab.goto(f"{server.url}/login")
    tab.click("text=Sign up")
    tab.fill("input[name=company]", "Raviga")
    tab.fill("input[name=email]", "laurie@raviga.test")
    tab.fill("input[name=password]", "capital gains")
    tab.click("text=Create account")
    tab.wait_for_url(f"{server.url}/dashboard/keys")
    assert "Welcome" in tab.inner_text(".flash")
    stranger.close()
    page.reload()
    assert "Raviga" in page.inner_text("table.customers")

    page.click("#signup-switch >> text=Turn off")
    assert page.inner_text("#signup-state") == "off"
    assert httpx.get(f"{server.url}/signup").status_code == 404


def test_tenant_isolation_in_the_browser(page, server, factory, sign_in, acme, db):
    bravo = factory.customer("bravo")
    theirs = factory.task(bravo, instruction="bravo's private instruction")
    done = factory.task(bravo, is_test=True)
    _complete(db, done, {"category": "public"})
    mine = factory.task(acme[0])
    sign_in(acme[1]["email"], PASSWORD)
    page.goto(f"{server.url}/dashboard/tasks")
    assert page.locator("table.tasks tbody a.mono").all_inner_texts() == [mine["id"]]
    for task in (theirs, done):
        response = page.goto(f"{server.url}/dashboard/tasks/{task['id']}")
        assert response.status == 404 and "private instruction" not in page.content()
    page.goto(f"{server.url}/dashboard/keys")
    assert bravo.live_key[:13] not in page.content()
    page.goto(f"{server.url}/dashboard/callbacks")
    with db.read() as conn:
        secret = customers.find_customer(conn, str(bravo.id))["signing_secret"]
    assert secret not in page.content() and done["id"] not in page.content()
    # A forged form against B's task, sent with A's own valid session and token, is refused.
    token = page.get_attribute("input[name=csrf_token]", "value")
    result = page.evaluate(
        """async ([url, token]) => {
            const body = new URLSearchParams({csrf_token: token});
            const r = await fetch(url, {method: 'POST', body});
            return r.status;
        }""",
        [f"/dashboard/tasks/{theirs['id']}/cancel", token],
    )
    assert result == 404
    assert httpx.get(f"{server.url}/v1/task/{theirs['id']}", auth=bravo.live_auth).json()["status"] == "pending"
