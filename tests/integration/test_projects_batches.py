"""Projects and batches over HTTP on both backends: project defaults under a task's own params,
batches holding their tasks from the worker queue until finalised, status counts, and the one
signed batch callback delivered by the real dispatcher to a loopback receiver."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from sqlalchemy import select
from standardwebhooks import Webhook

from taskforce.callbacks.dispatcher import Dispatcher
from taskforce.clock import now_ms
from taskforce.models import deliveries, tasks
from taskforce.tasks import service, simulator

from tests.factories import VALID_PARAMS
from tests.integration.test_callback_helpers import Receiver, customer_row

CAT = VALID_PARAMS["categorization"]
LEASE = 600


def _project(client, auth, name="p", type_="categorization", params=None):
    return client.post("/v1/projects", json={"type": type_, "name": name, "params": params or {}}, auth=auth)


def _batch(client, auth, name="b1", project="p", callback=""):
    return client.post("/v1/batches", json={"project": project, "name": name, "callback": callback,
                                            "metadata": {"k": 1}}, auth=auth)


def _claim(db, worker, now):
    with db.write() as conn:
        return service.claim(conn, worker["id"], lease_seconds=LEASE, now=now)


def test_projects_create_get_list_set_params_and_conflicts(client, factory):
    customer = factory.customer()
    auth = customer.live_auth
    r = _project(client, auth, "Kittens/2", params={"instruction": "Label kittens"})
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["name"] == "Kittens/2" and created["type"] == "categorization"
    assert created["param_history"][-1]["version"] == 0
    assert created["param_history"][-1]["instruction"] == "Label kittens"
    assert _project(client, auth, "Kittens/2").status_code == 409
    assert _project(client, auth, "x", type_="nope").json()["error"].startswith("type: ")
    assert _project(client, auth, "x", params={"unique_id": "u"}).status_code == 400
    # scaleapi 2.x quotes "/" in names as %2F.
    assert client.get("/v1/projects/Kittens%2F2", auth=auth).json()["name"] == "Kittens/2"
    assert client.get("/v1/projects/Kittens%2F2/", auth=auth).json()["name"] == "Kittens/2"
    assert client.get("/v1/projects/none", auth=auth).status_code == 404
    r = client.post("/v1/projects/Kittens%2F2/setParams", json={"categories": ["a", "b"]}, auth=auth)
    assert r.status_code == 200
    assert r.json()["params"] == {"instruction": "Label kittens", "categories": ["a", "b"]}
    assert r.json()["param_history"][-1]["version"] == 1
    r = client.post("/v1/projects/Kittens%2F2/setParams", json={"instruction": None}, auth=auth)
    assert r.json()["params"] == {"categories": ["a", "b"]}
    _project(client, auth, "second")
    assert [p["name"] for p in client.get("/v1/projects", auth=auth).json()] == ["Kittens/2", "second"]
    # Per customer and mode, like tasks.
    assert client.get("/v1/projects", auth=customer.test_auth).json() == []
    other = factory.customer()
    assert client.get("/v1/projects/second", auth=other.live_auth).status_code == 404


def test_project_params_are_defaults_under_the_tasks_own(client, factory):
    customer = factory.customer()
    auth = customer.live_auth
    _project(client, auth, "p", params={"instruction": "From the project", "attachment_type": "text",
                                        "categories": ["x", "y"], "urgency": "week"})
    r = client.post("/v1/task/categorization", json={"callback_url": CAT["callback_url"], "project": "p",
                                                     "attachment": "some text"}, auth=auth)
    assert r.status_code == 200, r.text
    task = r.json()
    assert task["instruction"] == "From the project" and task["urgency"] == "week"
    assert task["params"] == {"attachment_type": "text", "attachment": "some text", "categories": ["x", "y"]}
    # The task's own parameters win, form bodies included.
    r = client.post("/v1/task/categorize", data={"callback_url": CAT["callback_url"], "project": "p",
                                                 "attachment": "t", "instruction": "Mine",
                                                 "categories": ["only"]}, auth=auth)
    assert r.json()["instruction"] == "Mine" and r.json()["params"]["categories"] == ["only"]
    # Missing what neither gives: the error names the parameter.
    r = client.post("/v1/task/categorization", json={"project": "p", "attachment": "t"}, auth=auth)
    assert r.status_code == 400 and r.json()["error"].startswith("callback_url: ")
    r = client.post("/v1/task/transcription", json={**VALID_PARAMS["transcription"], "project": "p"}, auth=auth)
    assert r.status_code == 400 and r.json()["error"].startswith("project: ")
    # A project that does not exist is still a plain label.
    assert client.post("/v1/task/categorization", json={**CAT, "project": "free"}, auth=auth).status_code == 200


def test_batch_holds_its_tasks_until_finalize(client, factory, db):
    customer = factory.customer()
    auth = customer.live_auth
    worker = factory.user("worker")
    _project(client, auth, "p")
    assert _batch(client, auth, project="missing").status_code == 404
    r = _batch(client, auth)
    assert r.status_code == 200 and r.json()["status"] == "staging"
    assert _batch(client, auth).status_code == 409
    assert _batch(client, auth, "b2", callback="mailto:a@b.c").status_code == 400
    held = client.post("/v1/task/categorization", json={**CAT, "batch": "b1"}, auth=auth).json()
    assert held["batch"] == "b1" and held["project"] == "p"  # the batch's project
    bad = client.post("/v1/task/categorization", json={**CAT, "batch": "b1", "project": "other"}, auth=auth)
    assert bad.status_code == 400 and bad.json()["error"].startswith("batch: ")
    free = client.post("/v1/task/categorization", json=CAT, auth=auth).json()

    now = 1_900_000_000_000
    lease = _claim(db, worker, now)
    assert lease.task_id == free["task_id"]  # the held task is older, yet not offered
    with db.write() as conn:
        service.release(conn, lease.task_id, worker["id"], lease.token, skip=True, now=now)
    assert _claim(db, worker, now) is None

    status = client.get("/v1/batches/b1/status", auth=auth).json()
    assert status == {"status": "staging", "pending": 1, "completed": 0, "canceled": 0, "error": 0}
    r = client.post("/v1/batches/b1/finalize", auth=auth)
    assert r.status_code == 200 and r.json()["status"] == "in_progress"
    assert client.post("/v1/batches/b1/finalize", auth=auth).json()["status"] == "in_progress"
    assert _claim(db, worker, now).task_id == held["task_id"]
    # Created into a finalised batch: workable at once.
    later = client.post("/v1/task/categorization", json={**CAT, "batch": "b1"}, auth=auth).json()
    with db.read() as conn:
        assert conn.execute(select(tasks.c.held).where(tasks.c.id == later["task_id"])).scalar() is False


def test_test_mode_batch_waits_for_finalize_too(client, factory, db):
    customer = factory.customer()
    auth = customer.test_auth
    _project(client, auth, "p")
    _batch(client, auth)
    task = client.post("/v1/task/categorization", json={**CAT, "batch": "b1"}, auth=auth).json()
    far = 2_000_000_000_000
    with db.write() as conn:
        assert simulator.complete_due(conn, now=far, delay_ms=0) == []
    client.post("/v1/batches/b1/finalize", auth=auth)
    with db.write() as conn:
        assert simulator.complete_due(conn, now=far, delay_ms=0) == [task["task_id"]]
    assert client.get("/v1/batches/b1", auth=auth).json()["status"] == "completed"


def test_batch_list_metadata_and_mode(client, factory):
    customer = factory.customer()
    auth = customer.live_auth
    _project(client, auth, "p")
    _project(client, auth, "q")
    for name, project in (("a", "p"), ("b", "q"), ("c", "p")):
        assert _batch(client, auth, name, project).status_code == 200
    client.post("/v1/batches/c/finalize", auth=auth)  # empty: completed at once
    page = client.get("/v1/batches", params={"limit": 2}, auth=auth).json()
    assert [b["name"] for b in page["docs"]] == ["c", "b"]
    assert page["totalDocs"] == 3 and page["has_more"] is True and page["offset"] == 0
    assert [b["name"] for b in client.get("/v1/batches", params={"project": "p"}, auth=auth).json()["docs"]] == ["c", "a"]
    assert [b["name"] for b in client.get("/v1/batches", params={"status": "staging"}, auth=auth).json()["docs"]] == ["b", "a"]
    assert client.get("/v1/batches", params={"status": "bogus"}, auth=auth).status_code == 400
    r = client.post("/v1/batches/a/setMetadata", json={"new": True}, auth=auth)
    assert r.status_code == 200 and r.json()["metadata"] == {"new": True}
    assert client.post("/v1/batches/a/setMetadata", json=[1], auth=auth).status_code == 400
    assert client.get("/v1/batches", auth=customer.test_auth).json()["totalDocs"] == 0
    assert client.get("/v1/batches/a", auth=factory.customer().live_auth).status_code == 404
    # A completed batch takes no more tasks.
    r = client.post("/v1/task/categorization", json={**CAT, "batch": "c"}, auth=auth)
    assert r.status_code == 409 and r.json()["error"].startswith("batch: ")


def test_one_signed_callback_when_every_task_of_the_batch_is_final(client, factory, db, settings):
    customer = factory.customer()
    auth = customer.live_auth
    worker = factory.user("worker")
    with Receiver() as receiver:
        _project(client, auth, "p")
        assert _batch(client, auth, callback=receiver.url).status_code == 200
        ids = [client.post("/v1/task/categorization", json={**CAT, "batch": "b1", "callback_url": receiver.url},
                           auth=auth).json()["task_id"] for _ in range(2)]
        client.post("/v1/batches/b1/finalize", auth=auth)
        client.post(f"/v1/task/{ids[0]}/cancel", auth=auth)
        assert client.get("/v1/batches/b1", auth=auth).json()["status"] == "in_progress"
        now = now_ms()  # the dispatcher sends what is due by the real clock
        lease = _claim(db, worker, now)
        assert lease.task_id == ids[1]
        with db.write() as conn:
            service.complete(conn, lease.task_id, {"category": "public"}, worker_id=worker["id"],
                             lease_token=lease.token, now=now + 1)
        assert client.get("/v1/batches/b1/status", auth=auth).json() == {
            "status": "completed", "pending": 0, "completed": 1, "canceled": 1, "error": 0}
        with db.read() as conn:
            (batch_delivery,) = conn.execute(select(deliveries).where(deliveries.c.task_id.is_(None))).mappings()
        asyncio.run(Dispatcher(db, settings).run_once())
        got = [r for r in receiver.wait_for(2) if r.path == "/callback" and b'"counts"' in r.body]
    assert len(got) == 1
    body = json.loads(got[0].body)
    assert body["batch"]["name"] == "b1" and body["batch"]["status"] == "completed"
    assert body["counts"] == {"pending": 0, "completed": 1, "canceled": 1, "error": 0}
    assert got[0].headers["webhook-id"] == batch_delivery["webhook_id"]
    secret = customer_row(db, customer.id)["signing_secret"]
    Webhook(secret).verify(got[0].body, {k: got[0].headers[k] for k in
                                         ("webhook-id", "webhook-timestamp", "webhook-signature")})
    with db.read() as conn:
        rows = conn.execute(select(deliveries.c.status).where(deliveries.c.task_id.is_(None))).all()
    assert [r.status for r in rows] == ["delivered"]


def test_batch_callback_obeys_the_address_policy(client, factory, db, settings):
    customer = factory.customer()
    auth = customer.live_auth
    _project(client, auth, "p")
    _batch(client, auth, callback="http://169.254.169.254/latest")
    client.post("/v1/batches/b1/finalize", auth=auth)  # empty: completed at once
    results = asyncio.run(Dispatcher(db, settings).run_once())
    assert len(results) == 1 and results[0].outcome.error.startswith("refused: ")


def test_names_that_are_not_labels_are_refused_before_any_lookup(client, factory):
    # Found by the property test: PostgreSQL refuses a NUL in a query, which was a 500.
    auth = factory.customer().live_auth
    for extra in ({"project": "\x00"}, {"batch": "a\x00"}, {"batch": "b", "project": "x" * 201}):
        r = client.post("/v1/task/categorization", json={**CAT, **extra}, auth=auth)
        assert r.status_code == 400, (extra, r.text)
    assert client.get("/v1/projects/%00", auth=auth).status_code == 400
    assert client.get("/v1/batches/a%00/status", auth=auth).status_code == 400


def test_names_their_own_url_cannot_name_are_refused(client, factory):
    """Every path also answers with a trailing slash, so /v1/projects/a%2F meant project "a":
    a project named "a/" was created, and reading it (or its setParams) reached project "a"."""
    auth = factory.customer().live_auth
    assert _project(client, auth, "a", params={"instruction": "mine"}).status_code == 200
    for name in ("a/", "b/", "x\ny", ".", ".."):
        r = _project(client, auth, name)
        assert r.status_code == 400 and r.json()["error"].startswith("name: "), (name, r.text)
        r = _batch(client, auth, name, project="a")
        assert r.status_code == 400 and r.json()["error"].startswith("name: "), (name, r.text)
    assert [p["name"] for p in client.get("/v1/projects", auth=auth).json()] == ["a"]
    assert client.get("/v1/batches", auth=auth).json()["docs"] == []
    # Names with a slash inside, dots and spaces still round-trip.
    for name in ("a/b", "...", " c ", "d\r"):
        assert _project(client, auth, name).status_code == 200, name
        assert client.get("/v1/projects/" + quote(name, safe=""), auth=auth).json()["name"] == name


def test_two_last_tasks_finishing_at_once_complete_the_batch_once(client, factory, db):
    """The batch row is locked before counting: the second transaction counts after the first
    committed, so neither can miss that together they finished the batch."""
    import threading

    customer = factory.customer()
    auth = customer.test_auth
    _project(client, auth, "p")
    _batch(client, auth, callback="http://127.0.0.1:9/batch")
    first, second = (client.post("/v1/task/categorization", json={**CAT, "batch": "b1"}, auth=auth).json()["task_id"]
                     for _ in range(2))
    client.post("/v1/batches/b1/finalize", auth=auth)
    first_done, release_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def complete(task_id: str, done: threading.Event | None, wait: threading.Event | None) -> None:
        try:
            with db.write() as conn:
                service.complete(conn, task_id, {"category": "public"}, worker_id=None, lease_token=None)
                if done is not None:
                    done.set()
                if wait is not None:
                    wait.wait(10)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    a = threading.Thread(target=complete, args=(first, first_done, release_first))
    b = threading.Thread(target=complete, args=(second, None, None))
    a.start()
    assert first_done.wait(10)
    b.start()  # completes the other task while the first transaction is still open
    b.join(0.5)
    release_first.set()
    a.join(10)
    b.join(10)
    assert not errors, errors
    assert client.get("/v1/batches/b1", auth=auth).json()["status"] == "completed"
    with db.read() as conn:
        assert len(conn.execute(select(deliveries.c.id).where(deliveries.c.task_id.is_(None))).all()) == 1


def test_json_values_hold_the_same_limits_as_a_create(client, factory):
    """Found by the property test: a project's params holding an integer orjson cannot write
    back (below -2**63) was stored, then answered 500; setParams and setMetadata read bare JSON
    with orjson, which turned a long integer into a float."""
    customer = factory.customer()
    auth = customer.live_auth
    r = client.post("/v1/projects", json={"type": "categorization", "name": "p0",
                                          "params": {"": -9223372036854775809}}, auth=auth)
    assert r.status_code == 400 and "params[]" in r.json()["error"], r.text
    deep: dict = {}
    for _ in range(70):
        deep = {"a": deep}
    r = client.post("/v1/projects", json={"type": "categorization", "name": "p1", "params": deep}, auth=auth)
    assert r.status_code == 400 and r.json()["error"].startswith("params:"), r.text
    assert client.post("/v1/projects", json={"type": "categorization", "name": "p2"}, auth=auth).status_code == 200
    big = b'{"metadata": {"n": 100000000000000000000000000}}'
    r = client.post("/v1/projects/p2/setParams", content=big, auth=auth,
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "[n]" in r.json()["error"], r.text
    assert client.get("/v1/projects/p2", auth=auth).status_code == 200
