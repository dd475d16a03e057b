"""The web app's guards against repetition: failed sign-ins per address and email, self sign-ups
per address, and test callbacks per customer. Each answers with a page saying when to retry, and
a refused attempt changes nothing."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from sqlalchemy import func, select
from starlette.testclient import TestClient

from taskforce import site_settings
from taskforce.app import create_app
from taskforce.models import customers as customers_table

from tests.factories import PASSWORD
from tests.integration.test_dashboard import csrf, post, signed_in


def _login(client: TestClient, email: str, password: str):
    token = csrf(client.get("/login").text)
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password},
                       follow_redirects=False)


def test_failed_sign_ins_are_limited_per_address_and_email(settings, db, factory):
    app = create_app(settings.model_copy(update={"login_failures_per_minute": 3}), db)
    alice, bob = factory.user("worker"), factory.user("worker")
    client = TestClient(app)
    for _ in range(5):  # successes are not counted
        assert _login(client, alice["email"], PASSWORD).status_code == 303
    for _ in range(3):
        assert _login(client, alice["email"], "wrong password").status_code == 400
    refused = _login(client, alice["email"], PASSWORD)  # even the right password, for now
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.text and "Try again in" in refused.text
    assert "sign-ins" in _login(client, alice["email"].upper(), PASSWORD).text  # same account
    assert _login(client, bob["email"], PASSWORD).status_code == 303  # another account is unaffected


def test_sign_ups_are_limited_per_address(settings, db):
    app = create_app(settings.model_copy(update={"signups_per_hour": 2}), db)
    with db.write() as conn:
        site_settings.put(conn, site_settings.SELF_SIGNUP, True)

    def sign_up(n: int):
        visitor = TestClient(app)
        token = csrf(visitor.get("/signup").text)
        return visitor.post("/signup", data={"csrf_token": token, "company": f"Co {n}",
                                             "email": f"boss{n}@co.test", "password": "long enough pw"})

    assert sign_up(1).url.path == "/dashboard/keys"
    assert sign_up(2).url.path == "/dashboard/keys"
    third = sign_up(3)
    assert third.status_code == 429 and "Too many sign-ups" in third.text
    with db.read() as conn:
        names = conn.execute(select(customers_table.c.name)).scalars().all()
        assert "Co 3" not in names
        assert conn.execute(select(func.count()).select_from(customers_table)).scalar_one() == 2


def test_test_callbacks_are_limited_per_customer(settings, db, factory):
    app = create_app(settings.model_copy(update={"test_callbacks_per_minute": 1}), db)
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    other = factory.customer()
    other_user = factory.user("customer", customer_id=other.id)
    hits: list[str] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers["content-length"]))
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_port}/hook"
    try:
        client = signed_in(app, user["email"])
        for _ in range(3):  # a URL that is refused before sending costs nothing
            assert "http://" in post(client, "/dashboard/callbacks/test", {"url": "ftp://x/"}).text
        pages = [post(client, "/dashboard/callbacks/test", {"url": url}).text for _ in range(6)]
        other_page = post(signed_in(app, other_user["email"]), "/dashboard/callbacks/test", {"url": url}).text
    finally:
        httpd.shutdown()
    assert all("HTTP 204" in page for page in pages[:5])  # a burst of 5
    assert "Too many test callbacks" in pages[5] and "HTTP 204" not in pages[5]
    assert "HTTP 204" in other_page  # another customer has its own allowance
    assert len(hits) == 6
