"""The web app's edge, on both backends: text the database cannot store is refused before any
query (a 400, JSON under /v1 and a page elsewhere), task ids are checked for shape before any
query, errors are pages for the browser and JSON for the API, bound parameters never reach an
error message, and sign-out and password resets end sessions on the server."""

from __future__ import annotations

import base64

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.testclient import TestClient

from taskforce import dashboard_stats
from taskforce.app import create_app
from taskforce.http_server import uvicorn_options
from taskforce.tasks import service

from tests.conftest import LiveServer
from tests.factories import PASSWORD
from tests.integration.test_dashboard import csrf, post, signed_in

NUL = "\x00"
BAD_ID = "0123456789abcdef0123456" + NUL  # 24 characters, one of them NUL
BAD_ID_PATH = BAD_ID.replace(NUL, "%00")  # as it travels in an address


class Statements:
    """Every statement the app runs while in use, with its bound parameters."""

    def __init__(self, db) -> None:
        self.db = db
        self.seen: list[tuple[str, object]] = []

    def __enter__(self) -> Statements:
        event.listen(self.db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.db.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.seen.append((statement, parameters))

    def mention(self, value: str) -> list[str]:
        return [s for s, p in self.seen if value in repr(p)]


#: What a browser's navigations and form posts send: they are answered with pages.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def as_browser(client: TestClient) -> TestClient:
    client.headers.update(BROWSER)
    return client


def _refused_page(r, status: int = 400) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert 'class="brand"' in r.text  # the app's own look


def _basic(username: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:".encode()).decode()}


# -- NUL and other unstorable text ---------------------------------------------------------------


def test_a_nul_in_the_api_key_is_a_401_like_any_unknown_key(client, factory):
    customer = factory.customer()
    for username in (f"live_{NUL}", f"live_abc{NUL}def", customer.live_key[:20] + NUL):
        for method, path in (("GET", "/v1/tasks"), ("POST", "/v1/task/categorize"),
                             ("GET", f"/v1/task/{'a' * 24}")):
            r = client.request(method, path, headers=_basic(username))
            assert r.status_code == 401 and r.headers["content-type"] == "application/json"
            assert r.headers["www-authenticate"] == 'Basic realm="Taskforce API"'
            assert r.json() == {"status_code": 401, "error": "invalid API key"}
    # The API's own parameters keep their own answers.
    r = client.get("/v1/tasks?project=a%00b", auth=customer.live_auth)
    assert r.status_code == 400 and r.json()["error"].startswith("project: ")
    r = client.get("/v1/task/0123456789abcdef0123456%00", auth=customer.live_auth)
    assert r.status_code == 404 and r.json()["status_code"] == 404


def test_a_nul_in_any_web_form_or_address_is_refused_before_a_query(app, db, factory):
    customer = factory.customer()
    task = factory.task(customer)
    worker = factory.user("worker")
    operator = factory.user("operator")
    boss = factory.user("customer", customer_id=customer.id)

    anonymous = as_browser(TestClient(app))
    token = csrf(anonymous.get("/login").text)
    _refused_page(anonymous.post("/login", data={"csrf_token": token, "email": f"a{NUL}@b.test",
                                                 "password": PASSWORD}))

    work = as_browser(signed_in(app, worker["email"]))
    token = csrf(work.get("/work").text)
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600)
    with Statements(db) as statements:
        _refused_page(work.get(f"/work/task/{BAD_ID_PATH}"))
        _refused_page(work.post(f"/work/task/{BAD_ID_PATH}", data={"csrf_token": token, "lease": lease.token}))
        _refused_page(work.post(f"/work/task/{BAD_ID_PATH}/skip", data={"csrf_token": token, "lease": lease.token}))
        _refused_page(work.post("/work/stop", data={"csrf_token": token, "task_id": BAD_ID,
                                                    "lease": lease.token}))
        _refused_page(work.post(f"/work/task/{lease.task_id}", data={"csrf_token": token,
                                                                     "lease": f"{lease.token}{NUL}"}))
        assert statements.mention(NUL) == []

    console = as_browser(signed_in(app, operator["email"]))
    token = csrf(console.get("/operator/workers").text)
    for path, data in [("/operator/queue/release", {"task_id": BAD_ID}),
                       ("/operator/workers", {"email": f"w{NUL}@x.test", "password": PASSWORD}),
                       ("/operator/workers", {"email": "w@x.test", "password": f"{PASSWORD}{NUL}"}),
                       ("/operator/customers", {"name": f"Acme{NUL}", "email": ""}),
                       ("/operator/customers", {"name": "Acme", "email": f"boss{NUL}@acme.test"}),
                       ("/operator/customers/invite", {"customer_id": str(customer.id),
                                                       "email": f"x{NUL}@acme.test"})]:
        _refused_page(console.post(path, data={"csrf_token": token, **data}))
    _refused_page(console.post("/operator/workers/1%00/deactivate", data={"csrf_token": token}))

    dashboard = as_browser(signed_in(app, boss["email"]))
    _refused_page(post(dashboard, "/dashboard/keys/revoke", {"prefix": f"live_{NUL}1234567"}))
    _refused_page(dashboard.get(f"/dashboard/tasks/{BAD_ID_PATH}"))
    _refused_page(dashboard.get("/dashboard/tasks?status=%00"))
    # A client that is not a browser gets the API's JSON shape.
    r = TestClient(app).get(f"/dashboard/tasks/{BAD_ID_PATH}")
    assert r.status_code == 400 and r.json()["status_code"] == 400 and r.json()["error"].startswith("path: ")
    with db.read() as conn:  # nothing was changed by any of it
        assert service.get(conn, task["id"])["status"] == "pending"


def test_task_ids_in_web_addresses_are_checked_for_shape_before_any_query(app, db, factory):
    customer = factory.customer()
    worker, operator = factory.user("worker"), factory.user("operator")
    boss = factory.user("customer", customer_id=customer.id)
    odd = "x" * 5000
    work, console, dashboard = (signed_in(app, u["email"]) for u in (worker, operator, boss))
    token = csrf(work.get("/work").text)
    with Statements(db) as statements:
        assert work.get(f"/work/task/{odd}").url.path == "/work"
        assert work.post(f"/work/task/{odd}", data={"csrf_token": token, "lease": "t"}).url.path == "/work"
        assert work.post(f"/work/task/{odd}/skip", data={"csrf_token": token, "lease": "t"}).url.path == "/work"
        r = post(console, "/operator/queue/release", {"task_id": odd}, token_from="/operator/queue")
        assert "no task" in r.text
        assert dashboard.get(f"/dashboard/tasks/{odd}").status_code == 404
        assert statements.mention(odd[:64]) == []


# -- errors: pages for the browser, JSON for the API ----------------------------------------------


def test_browsers_get_error_pages_and_the_api_keeps_its_json(app, factory, monkeypatch):
    customer = factory.customer()
    boss = factory.user("customer", customer_id=customer.id)
    browser = as_browser(TestClient(app, raise_server_exceptions=False))
    _refused_page(browser.get("/no/such/page"), 404)
    assert "There is no such page" in browser.get("/no/such/page").text
    _refused_page(browser.put("/login"), 405)
    # Any other client gets JSON, on any path; /v1 answers JSON to everyone, exactly as before.
    assert TestClient(app).get("/no/such/page").json() == {
        "status_code": 404, "error": "Not found: no such endpoint GET /no/such/page"}
    assert browser.get("/v1/nope").json() == {"status_code": 404,
                                              "error": "Not found: no such endpoint GET /v1/nope"}
    assert browser.put("/v1/tasks", auth=customer.live_auth).json() == {
        "status_code": 405, "error": "Method PUT is not allowed on /v1/tasks"}

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(dashboard_stats, "overview", broken)
    dashboard = signed_in(app, boss["email"])
    dashboard_client = as_browser(TestClient(app, raise_server_exceptions=False, cookies=dashboard.cookies))
    r = dashboard_client.get("/dashboard")
    _refused_page(r, 500)
    assert "boom" not in r.text and "Something went wrong" in r.text
    monkeypatch.setattr(service, "get", broken)
    r = browser.get(f"/v1/task/{'a' * 24}", auth=customer.live_auth)
    assert r.status_code == 500 and r.json() == {"status_code": 500, "error": "Internal server error"}


def test_too_many_sign_ins_is_a_page(settings, db, factory):
    app = create_app(settings.model_copy(update={"login_failures_per_minute": 1}), db)
    client = as_browser(TestClient(app))
    user = factory.user("worker")
    for expected in (400, 429):
        token = csrf(client.get("/login").text)
        r = client.post("/login", data={"csrf_token": token, "email": user["email"], "password": "wrong!"})
        assert r.status_code == expected
    _refused_page(r, 429)


def test_bound_parameters_never_reach_an_error_message(db):
    secret = "lease-token-5f0c9e"
    with pytest.raises(SQLAlchemyError) as caught:
        with db.read() as conn:
            conn.execute(text("SELECT no_such_column FROM users WHERE email = :email"), {"email": secret})
    assert secret not in str(caught.value)


# -- sessions ---------------------------------------------------------------------------------------


def test_signing_out_ends_the_session_even_for_a_copied_cookie(app, factory):
    customer = factory.customer()
    boss = factory.user("customer", customer_id=customer.id)
    browser = signed_in(app, boss["email"])
    stolen = dict(browser.cookies)
    assert browser.get("/dashboard").url.path == "/dashboard"
    token = csrf(browser.get("/dashboard").text)
    assert browser.post("/logout", data={"csrf_token": token}).url.path == "/login"
    replay = TestClient(app, cookies=stolen)
    assert replay.get("/dashboard", follow_redirects=False).headers["location"] == "/login"
    # Signing in again works, with a new session.
    assert signed_in(app, boss["email"]).get("/dashboard").url.path == "/dashboard"


def test_a_password_reset_ends_the_workers_sessions(app, factory):
    worker, operator = factory.user("worker"), factory.user("operator")
    work = signed_in(app, worker["email"])
    assert work.get("/work").url.path == "/work"
    console = signed_in(app, operator["email"])
    r = post(console, f"/operator/workers/{worker['id']}/password", {"password": "a new password!"},
             token_from="/operator/workers")
    assert "New password set" in r.text
    assert work.get("/work", follow_redirects=False).headers["location"] == "/login"
    assert signed_in(app, worker["email"], "a new password!").get("/work").url.path == "/work"
    assert console.get("/operator/workers").url.path == "/operator/workers"  # the operator's own stays


def test_the_session_cookie_is_secure_when_configured(settings, db, factory):
    user = factory.user("worker")
    for secure in (False, True):
        app = create_app(settings.model_copy(update={"session_cookie_secure": secure}), db)
        client = TestClient(app)
        token = csrf(client.get("/login").text)
        r = client.post("/login", data={"csrf_token": token, "email": user["email"], "password": PASSWORD},
                        follow_redirects=False)
        cookie = r.headers["set-cookie"].lower()
        assert cookie.startswith("taskforce_session=") and (("; secure" in cookie) == secure)


# -- forwarded headers and the sign-in limit --------------------------------------------------------


def _login_over_http(url: str, email: str, password: str, forwarded_for: str) -> httpx.Response:
    with httpx.Client(base_url=url) as http:
        token = csrf(http.get("/login").text)
        return http.post("/login", data={"csrf_token": token, "email": email, "password": password},
                         headers={"X-Forwarded-For": forwarded_for})


def test_failed_sign_ins_are_limited_per_account_whatever_the_address(settings, db, factory):
    user = factory.user("worker")
    limited = settings.model_copy(update={"login_failures_per_minute": 2, "trusted_proxies": ["127.0.0.1"]})
    with LiveServer(create_app(limited, db), **uvicorn_options(limited)) as live:
        codes = [_login_over_http(live.url, user["email"], "wrong!", f"203.0.113.{n}").status_code
                 for n in range(3)]
        assert codes == [400, 400, 429]
        r = _login_over_http(live.url, user["email"], PASSWORD, "198.51.100.7")
        assert r.status_code == 429  # even the right password, from yet another address, for now


def test_forwarded_addresses_are_believed_only_from_named_proxies(settings, db):
    """Sign-ups are limited per address: from an unnamed proxy (here any local client, which
    uvicorn believes by default), X-Forwarded-For changes nothing."""
    from taskforce import site_settings

    with db.write() as conn:
        site_settings.put(conn, site_settings.SELF_SIGNUP, True)
    for trusted, expected in (([], [303, 429]), (["127.0.0.1"], [303, 303])):
        config = settings.model_copy(update={"signups_per_hour": 1, "trusted_proxies": trusted})
        with LiveServer(create_app(config, db), **uvicorn_options(config)) as live:
            codes = []
            for n in range(2):
                with httpx.Client(base_url=live.url) as http:
                    token = csrf(http.get("/signup").text)
                    codes.append(http.post("/signup", headers={"X-Forwarded-For": f"192.0.2.{n}"}, data={
                        "csrf_token": token, "company": f"Co {trusted} {n}",
                        "email": f"boss{n}{len(trusted)}@co.test", "password": "long enough pw"}).status_code)
        assert codes == expected, trusted


# -- the operator's pages ---------------------------------------------------------------------------


def test_every_operator_page_names_all_three_in_its_menu(app, factory):
    console = signed_in(app, factory.user("operator")["email"])
    for path in ("/operator/queue", "/operator/workers", "/operator/customers"):
        html = console.get(path).text
        for href in ('href="/operator/queue"', 'href="/operator/workers"', 'href="/operator/customers"'):
            assert href in html, (path, href)


def test_the_customers_page_costs_the_same_statements_whatever_the_customer_count(app, db, factory):
    console = signed_in(app, factory.user("operator")["email"])

    def statements() -> int:
        with Statements(db) as seen:
            assert console.get("/operator/customers").status_code == 200
        return len(seen.seen)

    factory.task(factory.customer())
    few = statements()
    for _ in range(25):
        factory.task(factory.customer())
    assert statements() == few
    html = console.get("/operator/customers").text
    assert html.count("<tr") >= 26


# -- argon2 runs with no transaction open ----------------------------------------------------------


class _SlowHasher:
    """argon2, held up until the test lets it go: shows what waits while a password is hashed."""

    def __init__(self, real) -> None:
        import threading

        self.real = real
        self.entered = threading.Event()
        self.release = threading.Event()

    def _hold(self) -> None:
        self.entered.set()
        assert self.release.wait(20)

    def verify(self, *args):
        self._hold()
        return self.real.verify(*args)

    def hash(self, *args):
        self._hold()
        return self.real.hash(*args)

    def check_needs_rehash(self, *args):
        return self.real.check_needs_rehash(*args)


@pytest.mark.parametrize("action", ["sign-in", "create a worker"])
def test_writers_do_not_wait_while_a_password_is_hashed(app, db, factory, monkeypatch, action):
    import threading

    from taskforce import accounts

    user = factory.user("worker" if action == "sign-in" else "operator")
    browser = signed_in(app, user["email"]) if action != "sign-in" else TestClient(app)
    token = csrf(browser.get("/login").text)
    customer = factory.customer()
    slow = _SlowHasher(accounts._hasher)
    monkeypatch.setattr(accounts, "_hasher", slow)
    if action == "sign-in":
        request = ("/login", {"csrf_token": token, "email": user["email"], "password": PASSWORD})
    else:
        request = ("/operator/workers", {"csrf_token": token, "email": "new@x.test", "password": PASSWORD})
    answers: list = []
    submit = threading.Thread(target=lambda: answers.append(browser.post(*request[:1], data=request[1])))
    submit.start()
    try:
        assert slow.entered.wait(10)
        # While argon2 runs, another request's write goes ahead (on SQLite it used to wait for
        # the write lock the sign-in held).
        created = threading.Event()

        def create() -> None:
            factory.task(customer)
            created.set()

        writer = threading.Thread(target=create, daemon=True)
        writer.start()
        assert created.wait(5), "a write waited for the password hash"
    finally:
        slow.release.set()
        submit.join(20)
    assert answers and answers[0].status_code == 200, answers


def test_a_line_break_in_a_path_names_nothing(client, factory):
    """Found by the property test: a route's pattern ends in "$", which Python lets match before
    a final newline, so "/v1/batches/%0A" answered the batch list and "/v1/batches/a%0A" the
    batch "a"."""
    customer = factory.customer()
    for path in ("/v1/batches/%0A", "/v1/batches/a%0A", "/v1/projects/%0A", "/v1/tasks%0A",
                 "/v1/task/%0A"):
        r = client.get(path, auth=customer.live_auth)
        assert r.status_code == 404, path
        assert r.json()["error"].startswith("no such path"), path
    page = client.get("/dashboard%0A", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
