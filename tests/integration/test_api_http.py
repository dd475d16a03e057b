"""HTTP-level contract of /v1 on both backends: auth, body limits and content types, cancel bodies,
trailing slashes, JSON 404/405, unique_id/project/batch, and the rate limit. The keep-alive
checks use a real server and one raw HTTP connection."""

from __future__ import annotations

import base64
import http.client
import json

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from taskforce import customers, models
from taskforce.rate_limits import RateLimiter
from taskforce.app import create_app
from tests.factories import VALID_PARAMS

CAT = VALID_PARAMS["categorization"]
MiB = 1024 * 1024


def _error(r, status: int, *words: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status_code"] == status and isinstance(body["error"], str) and body["error"]
    for word in words:
        assert word in body["error"], body["error"]
    return body


# -- auth -----------------------------------------------------------------------------------------

def _routes(task_id: str) -> list[tuple[str, str]]:
    return [("POST", "/v1/task/categorize"), ("POST", "/v1/task/categorization"), ("POST", "/v1/task/phonecall"),
            ("GET", f"/v1/task/{task_id}"), ("POST", f"/v1/task/{task_id}/cancel"), ("GET", "/v1/tasks"),
            ("GET", "/v1/tasks/"), ("POST", f"/v1/task/{task_id}/cancel/")]


def test_missing_unknown_malformed_and_revoked_keys_are_401_everywhere(client, factory, db):
    customer = factory.customer()
    task = factory.task(customer)
    with db.write() as conn:
        revoked = customers.create_api_key(conn, customer.id, "live")
        assert customers.revoke_api_key(conn, revoked[:13])
    basic = lambda user, pw="": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()  # noqa: E731
    headers_list = [
        {},
        {"authorization": basic("live_" + "0" * 40)},
        {"authorization": basic(customer.live_key[:-1] + ("0" if customer.live_key[-1] != "0" else "1"))},
        {"authorization": basic("not-a-key")},
        {"authorization": basic("")},
        {"authorization": "Basic !!!not-base64"},
        {"authorization": f"Bearer {customer.live_key}"},
        {"authorization": basic(revoked)},
    ]
    for headers in headers_list:
        for method, path in _routes(task["id"]):
            r = client.request(method, path, headers=headers, json=CAT if method == "POST" else None)
            _error(r, 401)
            assert r.headers["www-authenticate"].startswith("Basic")
    assert "revoked" in client.get("/v1/tasks", headers={"authorization": basic(revoked)}).json()["error"]
    # Nothing was created or canceled by any of that.
    assert client.get(f"/v1/task/{task['id']}", auth=customer.live_auth).json()["status"] == "pending"
    assert client.get("/v1/tasks", auth=customer.live_auth).json()["total"] == 1
    # A password, if a client sends one, is ignored: the key is the username.
    assert client.get("/v1/tasks", headers={"authorization": basic(customer.live_key, "x")}).status_code == 200


def test_a_create_checks_the_key_before_it_answers_for_the_body(client, factory, db):
    """A create reads its body before the key is looked up (one transaction for both), yet a bad
    key is a 401 whatever the body, and only a good key learns what is wrong with its body."""
    customer, gone = factory.customer(), factory.customer()
    with db.write() as conn:
        revoked = customers.create_api_key(conn, customer.id, "live")
        customers.revoke_api_key(conn, revoked[:13])
        conn.execute(update(models.customers).where(models.customers.c.id == gone.id).values(active=False))
    bodies = [  # (content, content type, the status a good key gets)
        (b"{not json", "application/json", 400),
        (json.dumps({**CAT, "categories": []}).encode(), "application/json", 400),
        (json.dumps({**CAT, "metadata": {"blob": "x" * (2 * MiB)}}).encode(), "application/json", 413),
        (b"<task/>", "application/xml", 415),
        (json.dumps(CAT).encode(), "application/json", 200),
    ]
    for content, content_type, status in bodies:
        for user in ("live_" + "0" * 40, revoked, gone.live_key):
            r = client.post("/v1/task/categorize", content=content, auth=(user, ""),
                            headers={"content-type": content_type})
            _error(r, 401)
        r = client.post("/v1/task/categorize", content=content, auth=customer.live_auth,
                        headers={"content-type": content_type})
        assert r.status_code == status, r.text
    assert client.get("/v1/tasks", auth=customer.live_auth).json()["total"] == 1
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(models.tasks)).scalar() == 1
    # The reads too: a bad key never learns what is wrong with its query.
    for query in ("limit=0", "status=done", "start_time=yesterday", "next_token=zz"):
        _error(client.get(f"/v1/tasks?{query}", auth=("live_" + "0" * 40, "")), 401)
        _error(client.get(f"/v1/tasks?{query}", auth=customer.live_auth), 400)
    _error(client.get("/v1/task/not-an-id", auth=(revoked, "")), 401)
    _error(client.get("/v1/task/not-an-id", auth=customer.live_auth), 404)


def test_a_create_marks_its_key_used(client, factory, db):
    customer = factory.customer()
    with db.write() as conn:
        key = customers.create_api_key(conn, customer.id, "live")

    def last_used() -> int | None:
        with db.read() as conn:
            return conn.execute(select(models.api_keys.c.last_used_at)
                                .where(models.api_keys.c.prefix == key[:13])).scalar_one()

    assert last_used() is None
    _error(client.post("/v1/task/categorize", json={}, auth=(key, "")), 400)
    assert last_used() is not None  # a rejected body still used the key
    with db.write() as conn:
        conn.execute(update(models.api_keys).where(models.api_keys.c.prefix == key[:13]).values(last_used_at=1))
    assert client.post("/v1/task/categorize", json=CAT, auth=(key, "")).status_code == 200
    assert last_used() > 1


# -- bodies -----------------------------------------------------------------------------------------

def test_body_over_1_mib_is_413(client, factory):
    customer = factory.customer()
    big = {**CAT, "metadata": {"blob": "x" * MiB}}
    _error(client.post("/v1/task/categorize", json=big, auth=customer.live_auth), 413, "larger than")

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(20):
            yield b"x" * (64 * 1024)

    r = client.post("/v1/task/categorize", content=chunks(), auth=customer.live_auth,
                    headers={"content-type": "application/json"})
    _error(r, 413)
    # Just under the limit is fine.
    ok = {**CAT, "metadata": {"blob": "x" * (MiB - 2000)}}
    assert client.post("/v1/task/categorize", json=ok, auth=customer.live_auth).status_code == 200


def test_malformed_json_is_400_and_other_content_types_415(client, factory):
    customer = factory.customer()
    for body in (b"{", b'{"callback_url": ', b"[]", b"null", b'"x"', b"\xff", b"{'a': 1}"):
        r = client.post("/v1/task/categorize", content=body, auth=customer.live_auth,
                        headers={"content-type": "application/json"})
        _error(r, 400, "body")
    for content_type in ("text/plain", "application/xml", "image/png", "application/octet-stream",
                         "text/html; charset=utf-8", "x"):
        r = client.post("/v1/task/categorize", content=json.dumps(CAT), auth=customer.live_auth,
                        headers={"content-type": content_type})
        _error(r, 415, "content type")


def test_no_body_is_400_for_the_missing_parameters(client, factory):
    customer = factory.customer()
    _error(client.post("/v1/task/categorize", auth=customer.live_auth), 400, "callback_url")
    _error(client.post("/v1/task/categorize", content=b"", auth=customer.live_auth,
                       headers={"content-type": "application/json"}), 400, "callback_url")


def test_multipart_form_like_curl_F(client, factory):
    customer = factory.customer()
    fields = [("callback_url", CAT["callback_url"]), ("instruction", CAT["instruction"]),
              ("attachment_type", "website"), ("attachment", CAT["attachment"]),
              ("categories", "public"), ("categories", "private")]
    r = client.post("/v1/task/categorize", auth=customer.live_auth, files=[(k, (None, v)) for k, v in fields])
    assert r.status_code == 200, r.text
    assert r.json()["params"]["categories"] == ["public", "private"]


# -- cancel -----------------------------------------------------------------------------------------

def test_cancel_takes_any_body_or_none(client, factory):
    customer = factory.customer()
    for content_type, body in [
        (None, None), ("application/json", b""), ("application/json", b"{}"),
        ("application/x-www-form-urlencoded", b""), ("text/plain", b""), ("multipart/form-data", b""),
        ("application/xml", b""), ("application/json", b"not even json"),
    ]:
        task = factory.task(customer)
        headers = {"content-type": content_type} if content_type else {}
        r = client.post(f"/v1/task/{task['id']}/cancel", content=body, headers=headers, auth=customer.live_auth)
        assert r.status_code == 200, (content_type, body, r.text)
        assert r.json()["status"] == "canceled" and r.json()["task_id"] == task["id"]


def test_cancel_errors(client, factory):
    alice, bob = factory.customer(), factory.customer()
    task = factory.task(alice)
    _error(client.post(f"/v1/task/{task['id']}/cancel", auth=bob.live_auth), 404)
    _error(client.post("/v1/task/nonexistent/cancel", auth=alice.live_auth), 404)
    assert client.post(f"/v1/task/{task['id']}/cancel?clear_unique_id=true", auth=alice.live_auth).status_code == 200
    _error(client.post(f"/v1/task/{task['id']}/cancel", auth=alice.live_auth), 500, "only pending tasks")


# -- paths ------------------------------------------------------------------------------------------

def test_trailing_slash_variants_answer_like_the_plain_ones(client, factory):
    customer = factory.customer()
    auth = customer.live_auth
    for endpoint in ("categorize", "categorization", "transcription", "phonecall", "comparison"):
        type_name = "categorization" if endpoint.startswith("categor") else endpoint
        plain = client.post(f"/v1/task/{endpoint}", json=VALID_PARAMS[type_name], auth=auth, follow_redirects=False)
        slash = client.post(f"/v1/task/{endpoint}/", json=VALID_PARAMS[type_name], auth=auth, follow_redirects=False)
        assert plain.status_code == slash.status_code == 200
        assert plain.json()["params"] == slash.json()["params"]
    task_id = slash.json()["task_id"]
    for path in (f"/v1/task/{task_id}", "/v1/tasks"):
        plain = client.get(path, auth=auth, follow_redirects=False)
        slash = client.get(path + "/", auth=auth, follow_redirects=False)
        assert plain.status_code == slash.status_code == 200
        assert plain.json() == slash.json()
    r = client.post(f"/v1/task/{task_id}/cancel/", auth=auth, follow_redirects=False)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    # Errors too: same status, same JSON, never a redirect.
    for method, path in (("GET", "/v1/task/unknown"), ("POST", "/v1/task/unknown/cancel"),
                         ("GET", "/v1/tasks?limit=0"), ("POST", "/v1/task/frobnicate")):
        a = client.request(method, path, auth=auth, follow_redirects=False)
        b = client.request(method, path.replace("?", "/?") if "?" in path else path + "/", auth=auth,
                           follow_redirects=False)
        assert a.status_code == b.status_code and a.status_code in (400, 404)
        assert a.json()["status_code"] == b.json()["status_code"]


UNKNOWN = [
    ("GET", "/nope", 404), ("GET", "/v1", 404), ("GET", "/v1/", 404), ("GET", "/v1/task", 404),
    ("POST", "/v1/task/frobnicate", 404), ("POST", "/v1/task/frobnicate/", 404),
    ("GET", "/v1/task/a/b/c", 404), ("GET", "/v2/tasks", 404),
    ("PUT", "/v1/tasks", 405), ("POST", "/v1/tasks", 405), ("DELETE", "/v1/task/abc", 405),
    ("PATCH", "/v1/task/abc/", 405), ("GET", "/v1/task/abc/cancel", 405), ("PUT", "/v1/task/categorize", 405),
    ("POST", "/openapi.json", 405),
]


def test_unknown_routes_and_methods_are_json(client, factory):
    customer = factory.customer()
    for method, path, status in UNKNOWN:
        for auth in (customer.live_auth, None):
            r = client.request(method, path, auth=auth, follow_redirects=False, json={"a": 1})
            _error(r, status)  # with or without a key: no route is no route
            if status == 405:
                assert r.headers.get("allow")


# -- project, batch, unique_id ------------------------------------------------------------------------

def test_unique_id_project_and_batch(client, factory):
    alice, bob = factory.customer(), factory.customer()
    auth = alice.live_auth
    plain = client.post("/v1/task/categorize", json=CAT, auth=auth).json()
    assert not {"project", "batch", "unique_id"} & set(plain)  # shown only when set
    first = client.post("/v1/task/categorize", auth=auth,
                        json={**CAT, "project": "p", "batch": "b1", "unique_id": "order-1"})
    assert first.status_code == 200
    task = first.json()
    assert (task["project"], task["batch"], task["unique_id"]) == ("p", "b1", "order-1")
    assert "unique_id" not in task["params"]
    assert client.get(f"/v1/task/{task['task_id']}", auth=auth).json() == task
    dup = client.post("/v1/task/comparison", json={**VALID_PARAMS["comparison"], "unique_id": "order-1"}, auth=auth)
    _error(dup, 409, "unique_id", "order-1")
    # Another customer, and the same customer's test mode, have their own unique_ids.
    assert client.post("/v1/task/categorize", json={**CAT, "unique_id": "order-1"}, auth=bob.live_auth).status_code == 200
    assert client.post("/v1/task/categorize", json={**CAT, "unique_id": "order-1"}, auth=alice.test_auth).status_code == 200
    # In a form too.
    form = client.post("/v1/task/categorize", auth=auth, data={**CAT, "project": "p", "batch": "b2"})
    assert form.status_code == 200 and form.json()["batch"] == "b2"

    def ids(**params):
        page = client.get("/v1/tasks", params=params, auth=auth).json()
        assert page["total"] == len(page["docs"])
        return [d["task_id"] for d in page["docs"]]

    assert ids(project="p") == [form.json()["task_id"], task["task_id"]]
    assert ids(batch="b1") == [task["task_id"]]
    assert ids(project="p", batch="b2") == [form.json()["task_id"]]
    assert ids(unique_id="order-1") == [task["task_id"]]
    assert ids(project="nope") == []
    assert len(ids()) == 3


def test_cancel_with_clear_unique_id_frees_the_unique_id(client, factory):
    auth = factory.customer().live_auth
    create = lambda: client.post("/v1/task/categorize", json={**CAT, "unique_id": "u"}, auth=auth)  # noqa: E731
    kept = create().json()
    assert client.post(f"/v1/task/{kept['task_id']}/cancel?clear_unique_id=false", auth=auth).status_code == 200
    _error(create(), 409, "unique_id")  # canceled, but still holding its unique_id
    client.post(f"/v1/task/{kept['task_id']}/cancel?clear_unique_id=true", auth=auth)  # not pending: 500
    _error(create(), 409, "unique_id")  # a refused cancel clears nothing
    freed_from = client.post("/v1/task/categorize", json=CAT, auth=auth).json()
    second = client.post("/v1/task/categorize", json={**CAT, "unique_id": "v"}, auth=auth).json()
    _error(client.post(f"/v1/task/{second['task_id']}/cancel?clear_unique_id=maybe", auth=auth),
           400, "clear_unique_id")
    assert client.get(f"/v1/task/{second['task_id']}", auth=auth).json()["status"] == "pending"
    canceled = client.post(f"/v1/task/{second['task_id']}/cancel?clear_unique_id=true", auth=auth).json()
    assert canceled["status"] == "canceled" and "unique_id" not in canceled
    again = client.post("/v1/task/categorize", json={**CAT, "unique_id": "v"}, auth=auth)
    assert again.status_code == 200 and again.json()["task_id"] != second["task_id"]
    assert freed_from["status"] == "pending"
    _error(client.get("/v1/tasks", params={"project": "x" * 201}, auth=auth), 400, "project")
    _error(client.get("/v1/tasks", params={"batch": "a\x00b"}, auth=auth), 400, "batch")


BAD_LIST = [
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
    ({"offset": "-1"}, "offset"), ({"status": "done"}, "status"), ({"type": "segmentannotation"}, "type"),
    ({"start_time": "yesterday"}, "start_time"), ({"end_time": "2016-13-45"}, "end_time"),
    ({"next_token": "garbage"}, "next_token"), ({"next_token": "MTIzOnh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eA"}, "next_token"),
]


def test_bad_list_parameters_are_400(client, factory):
    customer = factory.customer()
    for params, param in BAD_LIST:
        _error(client.get("/v1/tasks", params=params, auth=customer.live_auth), 400, param)


def test_list_ignores_unknown_parameters_and_filters_by_time(client, factory):
    customer = factory.customer()
    old = factory.task(customer, now=1_466_672_974_752)  # 2016-06-23T09:09:34.752Z
    new = factory.task(customer, now=1_700_000_000_000)
    auth = customer.live_auth
    page = client.get("/v1/tasks", params={"include_attachment_url": "True", "limited_response": "true", "color": ["a", "b"]}, auth=auth).json()
    assert page["total"] == 2
    page = client.get("/v1/tasks", params={"start_time": "2016-06-23T09:09:34.752Z", "end_time": "2016-06-24"},
                      auth=auth).json()
    assert [d["task_id"] for d in page["docs"]] == [old["id"]]
    assert page["docs"][0]["created_at"] == "2016-06-23T09:09:34.752Z"
    page = client.get("/v1/tasks", params={"start_time": "2020-01-01T00:00:00+02:00"}, auth=auth).json()
    assert [d["task_id"] for d in page["docs"]] == [new["id"]]


# -- rate limit -------------------------------------------------------------------------------------

def test_rate_limiter_token_bucket():
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.wait_seconds(1, now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait_seconds(1, now=100.0) == pytest.approx(0.5)
    assert limiter.wait_seconds(2, now=100.0) == 0.0  # each key has its own bucket
    assert limiter.wait_seconds(1, now=100.5) == 0.0  # refilled one token in 0.5 s
    assert limiter.wait_seconds(1, now=100.5) > 0
    assert [limiter.wait_seconds(1, now=200.0) for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never over burst


def test_rate_limit_answers_429_with_retry_after(settings, db, factory):
    customer, other = factory.customer(), factory.customer()
    limited = settings.model_copy(update={"api_rate_limit_per_second": 0.5, "api_rate_limit_burst": 2})
    with TestClient(create_app(limited, db)) as client:
        assert client.get("/v1/tasks", auth=customer.live_auth).status_code == 200
        assert client.post("/v1/task/categorize", json=CAT, auth=customer.live_auth).status_code == 200
        r = client.post("/v1/task/categorize", json=CAT, auth=customer.live_auth)
        _error(r, 429, "rate limit")
        assert int(r.headers["retry-after"]) >= 1
        assert client.get("/v1/tasks", auth=other.live_auth).status_code == 200  # per key
    # Off by default.
    with TestClient(create_app(settings, db)) as client:
        assert client.get("/v1/tasks", auth=customer.live_auth).json()["total"] == 1  # the 429 made nothing
        assert all(client.get("/v1/tasks", auth=customer.live_auth).status_code == 200 for _ in range(30))


# -- a real server: rejected requests leave the kept-alive connection usable --------------------------

def test_keep_alive_survives_401_and_413(server, factory):
    customer = factory.customer()
    auth = "Basic " + base64.b64encode(f"{customer.live_key}:".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)

    def send(method, path, body=b"", headers=None, chunked=False):
        conn.request(method, path, body=body, headers={"content-type": "application/json", **(headers or {})},
                     encode_chunked=chunked)
        response = conn.getresponse()
        data = response.read()
        assert (response.getheader("connection") or "").lower() != "close"
        return response.status, json.loads(data)

    big = json.dumps({**CAT, "metadata": {"blob": "x" * (2 * MiB)}}).encode()
    steps = [
        ("GET", "/v1/tasks", b"", {"authorization": auth}, False, 200),
        ("POST", "/v1/task/categorize", json.dumps(CAT).encode(), {}, False, 401),
        ("POST", "/v1/task/categorize", big, {}, False, 401),
        ("POST", "/v1/task/categorize", big, {"authorization": auth}, False, 413),
        ("POST", "/v1/task/categorize", iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
         {"authorization": auth}, True, 413),
        ("POST", "/v1/task/categorize", json.dumps(CAT).encode(), {"authorization": auth}, False, 200),
        ("POST", "/v1/task/frobnicate", json.dumps(CAT).encode(), {"authorization": auth}, False, 404),
        ("GET", "/v1/tasks", b"", {"authorization": auth}, False, 200),
    ]
    conn.connect()
    local = conn.sock.getsockname()
    for method, path, body, headers, chunked, status in steps:
        got, payload = send(method, path, body, headers, chunked)
        assert got == status, (path, payload)
        assert payload.get("status_code", 200) == status
        assert conn.sock is not None and conn.sock.getsockname() == local, "the connection was dropped"
    assert payload["total"] == 1
    conn.close()


def test_a_client_that_hangs_up_mid_body_is_no_server_error(server, factory, caplog):
    """A client that closes its connection before its whole body arrived (it gave up, or
    serve's body deadline closed it) used to be a 500 in the request log and the metrics, with
    two tracebacks logged ("unhandled error", "Exception in ASGI application")."""
    import logging
    import socket
    import time

    caplog.set_level(logging.INFO)
    customer = factory.customer()
    auth = base64.b64encode(f"{customer.live_key}:".encode())
    body = json.dumps(CAT).encode()
    paths = ["/v1/task/categorize", "/v1/projects", "/v1/batches", "/v1/files/upload"]
    for path in paths:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body) + 100}\r\n".encode()
                         + b"Authorization: Basic " + auth + b"\r\n\r\n" + body)
            time.sleep(0.2)  # the app is waiting for the rest (not required: it waits however long)
    # Each request ends once the server notices the closed connection: wait for its log line.
    deadline = time.monotonic() + 30
    while True:
        done = {r.fields["route"]: r.fields["status"] for r in caplog.records
                if r.getMessage() == "request" and hasattr(r, "fields") and r.fields["method"] == "POST"}
        if all(p in done for p in paths) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert {p: done.get(p) for p in paths} == {p: 499 for p in paths}
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
