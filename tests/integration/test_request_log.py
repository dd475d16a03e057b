"""The request log of a real `taskforce serve` process: one JSON line per request with the route
template, status, duration, request id and customer id; X-Request-Id is taken and returned; and
nothing secret (API keys, passwords, session cookies, callback auth keys, signing secrets) is
ever written, whatever the requests carried."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import time

import httpx
import orjson

from taskforce import request_log

from tests.factories import PASSWORD, VALID_PARAMS
from tests.integration.test_callback_helpers import STARTUP_SECONDS, Receiver, customer_row
from tests.integration.test_multiprocess_serve import ROOT, _free_port

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _wait_up(proc, base):
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        assert proc.poll() is None, "serve exited"
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not answer"
        time.sleep(0.1)


def test_json_request_log_has_the_fields_and_no_secrets(db, factory, tmp_path):
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    port = _free_port()
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "TASKFORCE_DATABASE_URL": db.url, "TASKFORCE_SECRET_KEY": "test",
           "TASKFORCE_SECRET_FILE": str(tmp_path / "secret"), "PYTHONPATH": str(ROOT),
           "TASKFORCE_LOG_FORMAT": "json", "TASKFORCE_TEST_MODE_DELAY_SECONDS": "0.05",
           "TASKFORCE_CALLBACK_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "taskforce", "serve", "--port", str(port)],
                                env=env, cwd=ROOT, stdout=log_file, stderr=log_file)
        try:
            _wait_up(proc, base)
            with Receiver() as receiver:
                r = httpx.post(base + "/v1/task/categorize", auth=customer.test_auth,
                               headers={"X-Request-Id": "trace-abc.123"},
                               json={**VALID_PARAMS["categorization"], "callback_url": receiver.url,
                                     "metadata": {"note": "customer data stays out of logs"}})
                assert r.status_code == 200 and r.headers["x-request-id"] == "trace-abc.123"
                task_id = r.json()["task_id"]
                receiver.wait_for(1, timeout=30)
            r = httpx.get(base + f"/v1/task/{task_id}?secret_query=hush", auth=customer.live_auth)
            assert r.status_code == 404
            made_up = r.headers["x-request-id"]
            assert re.fullmatch(r"[0-9a-f]{24}", made_up)
            r = httpx.get(base + "/v1/tasks", headers={"X-Request-Id": "bad id with spaces\u00e9".encode()},
                          auth=("live_wrongkey000000000000000000000000000000", ""))
            assert r.status_code == 401 and r.headers["x-request-id"] != "bad id with spaces"
            web = httpx.Client(base_url=base)
            token = CSRF.search(web.get("/login").text).group(1)
            web.post("/login", data={"csrf_token": token, "email": user["email"], "password": PASSWORD})
            cookies = dict(web.cookies)
            assert cookies, "signing in set a session cookie"
            assert web.get("/dashboard").status_code == 200
            time.sleep(0.5)  # the delivery's log line follows the receiver's answer
        finally:
            proc.terminate()
            assert proc.wait(timeout=30) == 0

    text = log_path.read_text()
    secrets = [customer.live_key, customer.test_key, PASSWORD, *cookies.values(),
               "live_wrongkey000000000000000000000000000000", "hush",
               "customer data stays out of logs"]
    row = customer_row(db, customer.id)
    secrets += [row["callback_auth_key"], row["signing_secret"]]
    for secret in secrets:
        assert secret not in text, f"a secret reached the log: {secret[:8]}…"

    lines = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [e for e in lines if e["logger"] == "taskforce.request"]
    create = next(e for e in requests if e["request_id"] == "trace-abc.123")
    assert create["method"] == "POST" and create["route"] == "/v1/task/categorize"
    assert create["status"] == 200 and create["customer_id"] == customer.id
    assert isinstance(create["duration_ms"], float) and create["level"] == "info"
    missing = next(e for e in requests if e["request_id"] == made_up)
    assert missing["route"] == "/v1/task/{task_id}" and missing["status"] == 404
    assert any(e["route"] == "/login" and e["method"] == "POST" for e in requests)
    assert any(e["route"] == "/dashboard" and e["status"] == 200 for e in requests)
    delivered = [e for e in lines if e["logger"] == "taskforce.callbacks"]
    assert delivered and delivered[0]["message"] == "callback delivered"
    assert delivered[0]["task_id"] == task_id and delivered[0]["status_code"] == 200
    assert any(e["message"] == "simulated worker completed test task" and e["task_id"] == task_id
               for e in lines)


def test_text_format_is_one_readable_line(client, factory):
    customer = factory.customer()
    stream = io.StringIO()
    request_log.configure_logging("text")
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "taskforce")
    handler.setStream(stream)
    try:
        r = client.get("/v1/tasks", auth=customer.live_auth, headers={"X-Request-Id": "r-1"})
        assert r.status_code == 200
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    (line,) = [l for l in stream.getvalue().splitlines() if "taskforce.request" in l]
    assert re.fullmatch(r"\S+ \S+ INFO taskforce\.request: request method=GET route=/v1/tasks "
                        rf"status=200 duration_ms=[0-9.]+ request_id=r-1 customer_id={customer.id}",
                        line), line
    assert customer.live_key not in stream.getvalue()


def test_warning_level_keeps_requests_out(client, factory):
    customer = factory.customer()
    stream = io.StringIO()
    request_log.configure_logging("json", "WARNING")
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "taskforce")
    handler.setStream(stream)
    try:
        assert client.get("/v1/tasks", auth=customer.live_auth).status_code == 200
        logging.getLogger("taskforce.callbacks").warning("callback given up")
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    (line,) = stream.getvalue().splitlines()
    assert orjson.loads(line)["message"] == "callback given up"


def _json_lines(run, *request_ids: str) -> list[dict]:
    """The request log lines written while ``run()`` runs (JSON format, captured), once those of
    ``request_ids`` are in: the server thread logs a request after its client has the answer."""
    stream = io.StringIO()
    request_log.configure_logging("json")
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "taskforce")
    handler.setStream(stream)

    def lines() -> list[dict]:
        return [e for e in map(orjson.loads, stream.getvalue().splitlines()) if e["logger"] == "taskforce.request"]

    try:
        run()
        deadline = time.monotonic() + 90
        while not set(request_ids) <= {e["request_id"] for e in lines()} and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    return lines()


def test_a_500_raised_past_the_app_carries_the_request_id_and_is_logged(app, server):
    """Starlette's ServerErrorMiddleware answers an exception no handler caught; that answer
    used to leave without X-Request-Id (the request log sat inside it)."""

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    app.add_api_route("/v1/boom", boom)
    got = {}

    def run() -> None:
        for path in ("/boom", "/v1/boom"):
            got[path] = httpx.get(server.url + path, headers={"X-Request-Id": f"trace{path.replace('/', '-')}",
                                                              "Accept": "text/html"})
        got["fine"] = httpx.get(server.url + "/healthz", headers={"X-Request-Id": "trace-ok"})

    lines = _json_lines(run, "trace-boom", "trace-v1-boom")
    page, api = got["/boom"], got["/v1/boom"]
    assert page.status_code == 500 and page.headers["x-request-id"] == "trace-boom"
    assert "text/html" in page.headers["content-type"]  # still the app's own error page
    assert page.headers["content-security-policy"].startswith("default-src 'self'")  # and its headers
    assert page.headers["x-frame-options"] == "DENY"
    assert api.status_code == 500 and api.headers["x-request-id"] == "trace-v1-boom"
    assert api.json() == {"status_code": 500, "error": "Internal server error"}
    assert got["fine"].headers["x-request-id"] == "trace-ok"
    assert [got["fine"].headers.get_list("x-request-id")] == [["trace-ok"]]  # once, not twice
    logged = {e["request_id"]: e for e in lines}
    assert logged["trace-boom"]["status"] == 500 and logged["trace-boom"]["route"] == "/boom"
    assert logged["trace-v1-boom"]["status"] == 500


def test_page_requests_log_the_signed_in_users_customer(server, factory):
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    worker = factory.user("worker")

    def visit(email: str, path: str, request_id: str) -> None:
        with httpx.Client(base_url=server.url) as client:
            token = CSRF.search(client.get("/login").text).group(1)
            assert client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
                               ).status_code == 303
            assert client.get(path, headers={"X-Request-Id": request_id}).status_code == 200

    lines = _json_lines(lambda: (visit(user["email"], "/dashboard/keys", "r-dash"),
                                 visit(worker["email"], "/work", "r-work")), "r-dash", "r-work")
    logged = {e["request_id"]: e for e in lines}
    assert logged["r-dash"]["route"] == "/dashboard/keys" and logged["r-dash"]["customer_id"] == customer.id
    assert logged["r-work"]["customer_id"] is None  # a worker acts for no customer
