"""The customer dashboard through real sessions: sign in with the login form, submit forms with
their CSRF tokens, and check what the database and the API then say."""

from __future__ import annotations

import logging
import re
import time

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from taskforce import customers
from taskforce.clock import now_ms
from taskforce.models import api_keys, deliveries, tasks
from taskforce.models import customers as customers_table
from taskforce.tasks import service

from tests.factories import PASSWORD

DAY = 86_400_000
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# -- helpers shared with test_tenant_isolation.py -------------------------------------------------


def csrf(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def signed_in(app, email: str, password: str = PASSWORD) -> TestClient:
    """A client of its own (its own cookie jar) signed in through the login form."""
    client = TestClient(app, follow_redirects=True)
    token = csrf(client.get("/login").text)
    response = client.post("/login", data={"csrf_token": token, "email": email, "password": password},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return client


def post(client: TestClient, path: str, data: dict | None = None, *, token_from: str = "/dashboard/keys",
         follow: bool = True):
    token = csrf(client.get(token_from).text)
    return client.post(path, data={"csrf_token": token, **(data or {})}, follow_redirects=follow)


def complete_test_task(db, task: dict, answer: dict, *, now: int) -> dict:
    with db.write() as conn:
        return service.complete(conn, task["id"], answer, worker_id=None, lease_token=None, now=now)


@pytest.fixture
def acme(factory):
    customer = factory.customer("acme")
    user = factory.user("customer", customer_id=customer.id)
    return customer, user


@pytest.fixture
def acme_client(app, acme):
    return signed_in(app, acme[1]["email"])


# -- access --------------------------------------------------------------------------------------


PAGES = ["/dashboard", "/dashboard/tasks", "/dashboard/keys", "/dashboard/callbacks",
         "/dashboard/tasks/0123456789abcdef01234567"]


def test_pages_need_a_customer_user(app, client, factory):
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    worker = signed_in(app, factory.user("worker")["email"])
    for path in PAGES:
        assert worker.get(path).status_code == 403, path


def test_pages_carry_the_csp_and_no_inline_script(acme_client, acme, factory):
    task = factory.task(acme[0])
    for path in PAGES[:-1] + [f"/dashboard/tasks/{task['id']}"]:
        response = acme_client.get(path)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "<script>" not in response.text and " style=" not in response.text and "onclick" not in response.text


def test_every_form_refuses_a_missing_csrf_token(acme_client, acme, factory):
    task = factory.task(acme[0])
    prefix = customers.ids.api_key_prefix(acme[0].live_key)
    for path, data in [
        ("/dashboard/keys", {"mode": "live"}),
        ("/dashboard/keys/revoke", {"prefix": prefix}),
        ("/dashboard/callbacks/rotate", {"secret": "signing_secret"}),
        ("/dashboard/callbacks/test", {"url": "http://127.0.0.1:9/"}),
        (f"/dashboard/tasks/{task['id']}/cancel", {}),
        (f"/dashboard/tasks/{task['id']}/redeliver", {}),
    ]:
        response = acme_client.post(path, data={**data, "csrf_token": "forged"})
        assert response.status_code == 400, path
    assert acme_client.get("/v1/tasks", auth=acme[0].live_auth).status_code == 200  # key not revoked
    with factory.db.read() as conn:
        assert conn.execute(select(tasks.c.status).where(tasks.c.id == task["id"])).scalar() == "pending"
        assert conn.execute(select(customers_table.c.previous_signing_secret)).scalar() is None


def test_sessions_expire(settings, db, factory):
    from taskforce.app import create_app

    # Cookie ages are whole seconds, so a 3 s limit leaves 2 s for signing in on a busy machine.
    app = create_app(settings.model_copy(update={"session_max_age": 3}), db)
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    client = signed_in(app, user["email"])
    assert client.get("/dashboard", follow_redirects=False).status_code == 200
    time.sleep(4.5)
    response = client.get("/dashboard", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_passwords_are_never_logged(app, factory, caplog):
    caplog.set_level(logging.DEBUG)
    customer = factory.customer()
    secret = "a very secret password 123"
    user = factory.user("customer", customer_id=customer.id, password=secret)
    signed_in(app, user["email"], secret)
    operator = signed_in(app, factory.user("operator")["email"])
    post(operator, "/operator/customers/signup", {"enabled": "on"}, token_from="/operator/customers")
    post(operator, "/operator/customers", {"name": "logco", "email": "x@logco.test", "password": secret},
         token_from="/operator/customers")
    newcomer = TestClient(app)
    newcomer.post("/signup", data={"csrf_token": csrf(newcomer.get("/signup").text), "company": "c2",
                                   "email": "y@c2.test", "password": secret})
    assert secret not in caplog.text


# -- overview ------------------------------------------------------------------------------------


def test_overview_counts_chart_median_and_callback_rate(acme_client, acme, factory, db):
    customer = acme[0]
    now = now_ms()
    done = []
    for minutes in (1, 3, 5):  # completion times 1, 3 and 5 minutes: median 3 minutes
        task = factory.task(customer, is_test=True, now=now - DAY - minutes * 60_000)
        done.append(complete_test_task(db, task, {"category": "public"}, now=now - DAY))
    factory.task(customer, is_test=True, now=now - 2 * DAY)  # pending
    canceled = factory.task(customer, is_test=True, now=now - 3 * DAY)
    with db.write() as conn:
        service.cancel(conn, canceled["id"], customer_id=customer.id, is_test=True)
        conn.execute(update(deliveries).where(deliveries.c.task_id == done[0]["id"]).values(status="delivered"))
        conn.execute(update(deliveries).where(deliveries.c.task_id == done[1]["id"]).values(status="failed"))
    factory.task(customer, is_test=False)  # live: not in the test overview

    page = acme_client.get("/dashboard?mode=test").text
    counts = dict(re.findall(r'data-status="(\w+)">\s*<span class="stat-label">\w+</span>\s*<span class="stat-value">([\d,]+)', page))
    assert counts == {"pending": "1", "completed": "3", "canceled": "1"}
    assert 'id="median">3.0 min<' in page
    assert 'id="callback-rate">50.0%<' in page and "1 in progress" in page
    assert page.count('class="bar created"') == 30 and page.count('class="bar completed"') == 30
    assert ": 3 completed</title>" in page and ": 1 created</title>" in page

    live = acme_client.get("/dashboard").text
    assert re.search(r'data-status="pending">\s*<span class="stat-label">\w+</span>\s*<span class="stat-value">1<', live)
    assert 'id="median">—<' in live


# -- API keys ------------------------------------------------------------------------------------


def test_create_key_shows_it_once_and_revoke_refuses_it_at_once(acme_client, acme, client):
    response = post(acme_client, "/dashboard/keys", {"mode": "test"})
    key = re.search(r'id="new-key" class="secret-value">(test_[0-9a-f]+)<', response.text).group(1)
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/v1/tasks", auth=(key, "")).status_code == 200

    listing = acme_client.get("/dashboard/keys").text
    prefix = key[:13]
    assert key not in listing and f"{prefix}…{key[-4:]}" in listing
    row = re.search(rf'<tr data-prefix="{prefix}".*?</tr>', listing, re.S).group(0)
    assert "test" in row and "active" in row and "never" not in row  # used once just above

    response = post(acme_client, "/dashboard/keys/revoke", {"prefix": prefix})
    assert "revoked" in response.text
    refused = client.get("/v1/tasks", auth=(key, ""))
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    assert client.get("/v1/tasks", auth=acme[0].live_auth).status_code == 200  # the others still work


def test_key_forms_refuse_bad_input(acme_client, acme):
    assert "Choose live or test" in post(acme_client, "/dashboard/keys", {"mode": "prod"}).text
    assert post(acme_client, "/dashboard/keys/revoke", {"prefix": "x"}).status_code == 404
    assert post(acme_client, "/dashboard/keys/revoke", {"prefix": "live_00000000"}).status_code == 404


# -- callbacks -----------------------------------------------------------------------------------


def test_callbacks_page_reveals_and_rotates(acme_client, acme, db, settings):
    with db.read() as conn:
        before = customers.find_customer(conn, str(acme[0].id))
    page = acme_client.get("/dashboard/callbacks")
    assert before["callback_auth_key"] in page.text and before["signing_secret"] in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "still valid until" not in page.text

    page = post(acme_client, "/dashboard/callbacks/rotate", {"secret": "signing_secret"}).text
    with db.read() as conn:
        after = customers.find_customer(conn, str(acme[0].id))
    assert after["signing_secret"] != before["signing_secret"]
    assert after["previous_signing_secret"] == before["signing_secret"]
    assert after["signing_secret"] in page and before["signing_secret"] in page
    expected = time.strftime("%Y-%m-%d %H:%M", time.gmtime(after["previous_secret_expires_at"] / 1000))
    assert f"still valid until {expected}" in page
    assert after["previous_secret_expires_at"] - now_ms() == pytest.approx(
        settings.signing_secret_grace_seconds * 1000, abs=60_000)

    page = post(acme_client, "/dashboard/callbacks/rotate", {"secret": "callback_auth_key"}).text
    with db.read() as conn:
        rotated = customers.find_customer(conn, str(acme[0].id))
    assert rotated["callback_auth_key"] != before["callback_auth_key"] and rotated["callback_auth_key"] in page
    assert "Unknown secret" in post(acme_client, "/dashboard/callbacks/rotate", {"secret": "x"}).text


def test_send_test_callback_shows_the_receivers_answer(acme_client, acme):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen = {}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            seen["auth"] = self.headers.get("scale-callback-auth")
            seen["signature"] = self.headers.get("webhook-signature")
            self.rfile.read(int(self.headers["content-length"]))
            body = b"<b>teapot</b> says hi"
            self.send_response(418)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_port}/hook"
        page = post(acme_client, "/dashboard/callbacks/test", {"url": url}).text
    finally:
        httpd.shutdown()
    assert "HTTP 418" in page
    assert "&lt;b&gt;teapot&lt;/b&gt; says hi" in page  # the receiver's text, escaped
    with acme_client.app.state.taskforce.db.read() as conn:
        assert seen["auth"] == customers.find_customer(conn, str(acme[0].id))["callback_auth_key"]
    assert seen["signature"].startswith("v1,")

    page = post(acme_client, "/dashboard/callbacks/test", {"url": "ftp://example.com/"}).text
    assert "http://" in page and 'id="test-result"' in page


# -- tasks ---------------------------------------------------------------------------------------


def _row_ids(html: str) -> list[str]:
    return re.findall(r'<a class="mono" href="/dashboard/tasks/([0-9a-f]{24})">', html)


def test_tasks_table_filters_newest_first_and_pages_with_the_api_cursor(acme_client, acme, factory, client):
    customer = acme[0]
    # Noon UTC ten days ago: the day filters below must not depend on when the test runs
    # (anchored at "now", a run just before midnight put the first tasks in the next day).
    base = (now_ms() // DAY - 10) * DAY + DAY // 2
    made = [factory.task(customer, "categorization", now=base + i * 1000) for i in range(55)]
    calls = [factory.task(customer, "phonecall", now=base + DAY + i, urgency="week") for i in range(3)]
    test_task = factory.task(customer, is_test=True, now=base + 2 * DAY)

    first = acme_client.get("/dashboard/tasks").text
    ids = _row_ids(first)
    assert len(ids) == 50 and test_task["id"] not in ids
    assert ids[:3] == [t["id"] for t in reversed(calls)]
    token = re.search(r'href="/dashboard/tasks\?mode=live&amp;next_token=([^"&]+)" rel="next"', first)
    assert token is None  # mode is only kept when chosen; the default is live
    link = re.search(r'href="(/dashboard/tasks\?next_token=[^"]+)" rel="next"', first).group(1)
    second = acme_client.get(link.replace("&amp;", "&")).text
    assert _row_ids(second) == [t["id"] for t in reversed(made[:8])]
    # The same cursor the API hands out:
    api_token = client.get("/v1/tasks?limit=50", auth=customer.live_auth).json()["next_token"]
    assert link.endswith(f"next_token={api_token}")
    assert "Newest" in second and 'rel="next"' not in second

    assert set(_row_ids(acme_client.get("/dashboard/tasks?type=phonecall").text)) == {t["id"] for t in calls}
    assert set(_row_ids(acme_client.get("/dashboard/tasks?urgency=week").text)) == {t["id"] for t in calls}
    assert _row_ids(acme_client.get("/dashboard/tasks?mode=test").text) == [test_task["id"]]
    with factory.db.write() as conn:
        service.cancel(conn, made[0]["id"], customer_id=customer.id, is_test=False)
    assert _row_ids(acme_client.get("/dashboard/tasks?status=canceled").text) == [made[0]["id"]]
    day = time.strftime("%Y-%m-%d", time.gmtime((base + DAY) / 1000))
    assert set(_row_ids(acme_client.get(f"/dashboard/tasks?from={day}&to={day}").text)) == {t["id"] for t in calls}
    assert _row_ids(acme_client.get(f"/dashboard/tasks?from={day}&type=categorization").text) == []


@pytest.mark.parametrize("query", [
    "status=bogus", "type=<script>", "urgency=1", "from=2026-13-45", "to=yesterday", "mode=xyz",
    "next_token=not-a-token", "next_token=" + "A" * 500, "from=2026-01-01&to=2025-01-01",
])
def test_tasks_table_survives_bad_filters(acme_client, acme, factory, query):
    factory.task(acme[0])
    response = acme_client.get(f"/dashboard/tasks?{query}")
    assert response.status_code == 200
    assert "<script>" not in response.text.split("<main>")[1]


def test_task_page_renders_each_type_of_response(acme_client, acme, factory, db):
    customer = acme[0]
    now = now_ms()
    cat = factory.task(customer, "categorization", is_test=True, categories=["public", "private", "<b>other</b>"])
    complete_test_task(db, cat, {"category": "private"}, now=now)
    page = acme_client.get(f"/dashboard/tasks/{cat['id']}").text
    assert re.search(r'<li class="chosen">private <span class="tick"', page)
    assert '<li class="">public' in page and "&lt;b&gt;other&lt;/b&gt;" in page

    tr = factory.task(customer, "transcription", is_test=True)
    complete_test_task(db, tr, {"fields": {"title": "Front page", "top_result": "Cats"},
                                "rows": [{"username": "ann", "comment_count": "3"},
                                         {"username": "bob", "comment_count": "7"}]}, now=now)
    page = acme_client.get(f"/dashboard/tasks/{tr['id']}").text
    assert "<td>Front page</td>" in page and "<td>bob</td><td>7</td>" in page

    call = factory.task(customer, "phonecall", is_test=True)
    complete_test_task(db, call, {"outcome": "success", "fields": {"email": "a@b.c"}}, now=now)
    page = acme_client.get(f"/dashboard/tasks/{call['id']}").text
    assert ">success</strong>" in page and "<td>a@b.c</td>" in page

    cmp_ = factory.task(customer, "comparison", is_test=True)
    complete_test_task(db, cmp_, {"choice": "no"}, now=now)
    page = acme_client.get(f"/dashboard/tasks/{cmp_['id']}").text
    assert re.search(r'<li class="chosen">no <span', page)
    assert "Redeliver callback" in page and "Cancel task" not in page


def test_cancel_from_the_task_page(acme_client, acme, factory, db):
    task = factory.task(acme[0])
    page = acme_client.get(f"/dashboard/tasks/{task['id']}").text
    assert "Cancel task" in page
    page = post(acme_client, f"/dashboard/tasks/{task['id']}/cancel").text
    assert "Task canceled." in page and 'id="task-status">canceled<' in page
    page = post(acme_client, f"/dashboard/tasks/{task['id']}/cancel").text
    assert "only pending tasks can be canceled" in page
    assert acme_client.get("/dashboard/tasks/zzz").status_code == 404


def test_redeliver_and_the_attempts_it_makes(acme_client, acme, factory, db):
    from taskforce.models import delivery_attempts

    task = factory.task(acme[0], is_test=True)
    complete_test_task(db, task, {"category": "public"}, now=now_ms())
    with db.write() as conn:
        delivery_id = conn.execute(select(deliveries.c.id).where(deliveries.c.task_id == task["id"])).scalar()
        conn.execute(delivery_attempts.insert().values(delivery_id=delivery_id, attempted_at=now_ms(),
                                                       status_code=503, latency_ms=12,
                                                       error="HTTP 503 <from receiver>"))
        conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(status="failed"))
    page = acme_client.get(f"/dashboard/tasks/{task['id']}").text
    attempts = page.split('id="callback-attempts"')[1]
    assert "<td>503</td>" in attempts and "HTTP 503 &lt;from receiver&gt;" in attempts and "12 ms" in attempts

    page = post(acme_client, f"/dashboard/tasks/{task['id']}/redeliver").text
    assert "sent again" in page
    with db.read() as conn:
        rows = conn.execute(select(deliveries.c.status).where(deliveries.c.task_id == task["id"])
                            .order_by(deliveries.c.id)).scalars().all()
    assert rows == ["failed", "pending"]

    pending = factory.task(acme[0])
    assert "only completed tasks" in post(acme_client, f"/dashboard/tasks/{pending['id']}/redeliver").text


# -- self sign-up and the operator's Customers page -------------------------------------------------


def test_self_signup_only_when_enabled(app, factory, db):
    visitor = TestClient(app)
    assert visitor.get("/signup").status_code == 404
    assert "Sign up" not in visitor.get("/login").text
    operator = signed_in(app, factory.user("operator")["email"])
    page = post(operator, "/operator/customers/signup", {"enabled": "on"}, token_from="/operator/customers").text
    assert 'id="signup-state">on<' in page
    assert "/signup" in visitor.get("/login").text

    token = csrf(visitor.get("/signup").text)
    response = visitor.post("/signup", data={"csrf_token": token, "company": "Newco",
                                             "email": "Boss@Newco.test", "password": "long enough pw"})
    assert response.url.path == "/dashboard/keys"
    with db.read() as conn:
        row = customers.find_customer(conn, "Newco")
        assert conn.execute(select(api_keys.c.id).where(api_keys.c.customer_id == row["id"])).first() is None
    # The newcomer signs in later with the same credentials, and sees an empty account of their own.
    assert "No tasks match" in signed_in(app, "boss@newco.test", "long enough pw").get("/dashboard/tasks").text

    # A taken email or a short password makes nothing (no customer without a user).
    again = TestClient(app)
    token = csrf(again.get("/signup").text)
    response = again.post("/signup", data={"csrf_token": token, "company": "Dupe",
                                           "email": "boss@newco.test", "password": "long enough pw"})
    assert response.status_code == 400 and "already exists" in response.text
    response = again.post("/signup", data={"csrf_token": token, "company": "Short", "email": "s@s.test",
                                           "password": "short"})
    assert response.status_code == 400 and "at least 8" in response.text
    with db.read() as conn:
        names = conn.execute(select(customers_table.c.name)).scalars().all()
    assert "Dupe" not in names and "Short" not in names

    post(operator, "/operator/customers/signup", {"enabled": "off"}, token_from="/operator/customers")
    assert visitor.get("/signup").status_code == 404
    assert again.post("/signup", data={"csrf_token": token, "company": "Late", "email": "l@l.test",
                                       "password": "long enough pw"}).status_code == 404


def test_operator_creates_invites_and_sees_volume(app, factory, db):
    operator = signed_in(app, factory.user("operator")["email"])
    page = post(operator, "/operator/customers", {"name": "Globex", "email": "ceo@globex.test"},
                token_from="/operator/customers").text
    password = re.search(r'id="invited-password" class="secret-value">([^<]+)<', page).group(1)
    with db.read() as conn:
        globex = customers.find_customer(conn, "Globex")
    user_client = signed_in(app, "ceo@globex.test", password)
    assert user_client.get("/dashboard").status_code == 200

    page = post(operator, "/operator/customers/invite",
                {"customer_id": str(globex["id"]), "email": "dev@globex.test", "password": "chosen password"},
                token_from="/operator/customers").text
    assert "Invited dev@globex.test to Globex" in page and 'id="invited-password"' not in page
    signed_in(app, "dev@globex.test", "chosen password")

    with db.write() as conn:
        key = customers.create_api_key(conn, globex["id"], "live")
    from tests.factories import Customer

    g = Customer(globex["id"], "Globex", key, key)
    for _ in range(3):
        factory.task(g)
    factory.task(g, now=now_ms() - 40 * DAY)
    row = re.search(rf'<tr data-customer="{globex["id"]}">.*?</tr>', operator.get("/operator/customers").text, re.S).group(0)
    assert re.findall(r"<td>([^<]*)</td>", row)[:5] == [str(globex["id"]), "Globex", "2", "3", "4"]

    assert post(operator, "/operator/customers/invite", {"customer_id": "999", "email": "x@y.test"},
                token_from="/operator/customers").status_code == 400
    assert post(operator, "/operator/customers", {"name": ""}, token_from="/operator/customers").status_code == 400
    dup = post(operator, "/operator/customers", {"name": "Dup Co", "email": "ceo@globex.test"},
               token_from="/operator/customers")
    assert dup.status_code == 400
    with db.read() as conn:
        assert "Dup Co" not in conn.execute(select(customers_table.c.name)).scalars().all()


def test_customers_page_is_for_operators_only(app, acme, acme_client):
    assert acme_client.get("/operator/customers").status_code == 403
    assert post(acme_client, "/operator/customers/signup", {"enabled": "on"}).status_code == 403
    assert TestClient(app).get("/operator/customers", follow_redirects=False).status_code == 303


def test_users_invite_cli(database_url, db, factory, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from taskforce.cli import app as cli

    monkeypatch.setenv("TASKFORCE_DATABASE_URL", database_url)
    monkeypatch.setenv("TASKFORCE_SECRET_KEY", "cli-test")
    customer = factory.customer("initech")
    result = CliRunner().invoke(cli, ["users", "invite", "initech", "peter@initech.test",
                                      "--password", "tps reports!"])
    assert result.exit_code == 0, result.output
    assert "peter@initech.test" in result.output and "tps reports!" not in result.output
    from taskforce import accounts

    with db.write() as conn:
        user = accounts.verify_login(conn, "peter@initech.test", "tps reports!")
    assert user["role"] == "customer" and user["customer_id"] == customer.id

    result = CliRunner().invoke(cli, ["users", "invite", str(customer.id), "Milton@Initech.test",
                                      "--generate-password"])
    assert result.exit_code == 0, result.output
    generated = result.output.split("shown only now): ")[1].strip()
    with db.write() as conn:
        assert accounts.verify_login(conn, "milton@initech.test", generated)["customer_id"] == customer.id
    for args, message in [(["nobody", "x@y.test", "--password", "long enough"], "no customer"),
                          (["initech", "peter@initech.test", "--password", "long enough"], "already exists"),
                          (["initech", "bill@initech.test", "--password", "short"], "at least 8")]:
        result = CliRunner().invoke(cli, ["users", "invite", *args])
        assert result.exit_code == 1 and message in result.output, result.output


def test_a_deactivated_customer_signs_its_users_out_and_keeps_them_out(app, acme, acme_client, db):
    assert acme_client.get("/dashboard/keys", follow_redirects=False).status_code == 200
    with db.write() as conn:
        conn.execute(update(customers_table).where(customers_table.c.id == acme[0].id).values(active=False))
    # The open session stops at once...
    assert acme_client.get("/dashboard/keys", follow_redirects=False).status_code == 303
    # ...and signing in again is refused like a wrong password.
    fresh = TestClient(app)
    token = csrf(fresh.get("/login").text)
    r = fresh.post("/login", data={"csrf_token": token, "email": acme[1]["email"], "password": PASSWORD},
                   follow_redirects=False)
    assert r.status_code == 400


def test_keys_can_be_named_and_the_name_is_listed_escaped(acme_client, acme, db):
    response = post(acme_client, "/dashboard/keys", {"mode": "live", "name": "  CI <b>runner</b> "})
    key = re.search(r'id="new-key" class="secret-value">(live_[0-9a-f]+)<', response.text).group(1)
    listing = acme_client.get("/dashboard/keys").text
    row = re.search(rf'<tr data-prefix="{key[:13]}".*?</tr>', listing, re.S).group(0)
    assert '<td class="key-name">CI &lt;b&gt;runner&lt;/b&gt;</td>' in row
    with db.read() as conn:
        assert conn.execute(select(api_keys.c.name).where(api_keys.c.prefix == key[:13])).scalar_one() == \
            "CI <b>runner</b>"
    # No name is fine (and stored as none); too long or a control character is refused, no key made.
    post(acme_client, "/dashboard/keys", {"mode": "test", "name": "   "})
    for bad, message in (("x" * 101, "at most 100 characters"), ("a\tb", "control characters")):
        response = post(acme_client, "/dashboard/keys", {"mode": "test", "name": bad})
        assert message in response.text and 'id="new-key"' not in response.text
    with db.read() as conn:
        names = [r.name for r in conn.execute(select(api_keys.c.name).where(api_keys.c.customer_id == acme[0].id)
                                              .order_by(api_keys.c.id))]
    assert names == [None, None, "CI <b>runner</b>", None]  # the factory's two, then ours
