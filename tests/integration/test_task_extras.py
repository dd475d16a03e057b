"""scaleapi 2.x's task methods over HTTP on both backends: metadata, tags, unique_id, audit,
the list's later filters, and updated_at following every change."""

from __future__ import annotations

import time

from taskforce.clock import format_ms, now_ms
from taskforce.tasks import service

from tests.factories import VALID_PARAMS

CAT = VALID_PARAMS["categorization"]


def _create(client, auth, **extra):
    r = client.post("/v1/task/categorization", json={**CAT, **extra}, auth=auth)
    assert r.status_code == 200, r.text
    return r.json()


def _ids(client, auth, **params):
    r = client.get("/v1/tasks", params=params, auth=auth)
    assert r.status_code == 200, r.text
    return [t["task_id"] for t in r.json()["docs"]]


def _complete_test_task(db, task_id):
    with db.write() as conn:
        service.complete(conn, task_id, {"category": "public"}, worker_id=None, lease_token=None)


def test_metadata_and_tags(client, factory):
    customer = factory.customer()
    auth = customer.live_auth
    task = _create(client, auth)
    assert task["tags"] == [] and task["updated_at"] == task["created_at"]
    r = client.post(f"/v1/task/{task['task_id']}/setMetadata", json={"a": [1, 2]}, auth=auth)
    assert r.status_code == 200 and r.json()["metadata"] == {"a": [1, 2]}
    assert client.post(f"/v1/task/{task['task_id']}/setMetadata", json=["x"], auth=auth).status_code == 400
    tid = task["task_id"]
    assert client.post(f"/v1/task/{tid}/tags", json=["a", "b", "a"], auth=auth).json()["tags"] == ["a", "b"]
    assert client.put(f"/v1/task/{tid}/tags", json=["c", "a"], auth=auth).json()["tags"] == ["a", "b", "c"]
    r = client.request("DELETE", f"/v1/task/{tid}/tags", json=["b", "zz"], auth=auth)
    assert r.status_code == 200 and r.json()["tags"] == ["a", "c"]
    assert client.post(f"/v1/task/{tid}/tags", json=[""], auth=auth).json()["error"].startswith("tags[0]: ")
    assert client.post(f"/v1/task/{tid}/tags", json={"x": 1}, auth=auth).status_code == 400
    assert client.post(f"/v1/task/{tid}/tags", content=b"a=b", auth=auth,
                       headers={"content-type": "text/plain"}).status_code == 415
    other = _create(client, auth)
    client.post(f"/v1/task/{other['task_id']}/tags", json=["b"], auth=auth)
    _create(client, auth)
    assert _ids(client, auth, tags="a") == [tid]
    assert _ids(client, auth, tags=["a", "b"]) == [other["task_id"], tid]
    assert client.get("/v1/tasks", params={"tags": "b"}, auth=auth).json()["total"] == 1
    # Another customer's task is not there to change.
    stranger = factory.customer()
    assert client.post(f"/v1/task/{tid}/tags", json=["x"], auth=stranger.live_auth).status_code == 404
    assert client.post(f"/v1/task/{tid}/setMetadata", json={}, auth=customer.test_auth).status_code == 404


def test_unique_id_set_clear_conflict_and_cancel_clears(client, factory):
    customer = factory.customer()
    auth = customer.live_auth
    a = _create(client, auth, unique_id="u1")
    b = _create(client, auth)
    r = client.post(f"/v1/task/{b['task_id']}/unique_id", json={"unique_id": "u1"}, auth=auth)
    assert r.status_code == 409 and r.json()["error"].startswith("unique_id: ")
    assert client.post(f"/v1/task/{b['task_id']}/unique_id", json={}, auth=auth).status_code == 400
    r = client.post(f"/v1/task/{b['task_id']}/unique_id", json={"unique_id": "u2"}, auth=auth)
    assert r.status_code == 200 and r.json()["unique_id"] == "u2"
    r = client.delete(f"/v1/task/{a['task_id']}/unique_id", auth=auth)
    assert r.status_code == 200 and "unique_id" not in r.json()
    assert _create(client, auth, unique_id="u1")["unique_id"] == "u1"
    assert _ids(client, auth, unique_id=["u1", "u2"]) == [_ids(client, auth, unique_id="u1")[0], b["task_id"]]
    # cancel?clear_unique_id=true frees it for a new task.
    client.post(f"/v1/task/{b['task_id']}/cancel", params={"clear_unique_id": "true"}, auth=auth)
    assert _create(client, auth, unique_id="u2")["unique_id"] == "u2"


def test_audit_and_review_filter(client, factory, db):
    customer = factory.customer()
    auth = customer.test_auth
    done, rejected, pending = (_create(client, auth) for _ in range(3))
    r = client.post(f"/v1/task/{pending['task_id']}/audit", json={"accepted": True}, auth=auth)
    assert r.status_code == 409
    for task in (done, rejected):
        _complete_test_task(db, task["task_id"])
    r = client.post(f"/v1/task/{done['task_id']}/audit", json={"accepted": True, "comments": None}, auth=auth)
    assert r.status_code == 200 and r.json()["customer_review_status"] == "accepted"
    r = client.post(f"/v1/task/{rejected['task_id']}/audit", data={"accepted": "false", "comments": "Wrong"},
                    auth=auth)
    assert r.json()["customer_review_status"] == "rejected"
    assert r.json()["customer_review_comments"] == ["Wrong"]
    assert client.post(f"/v1/task/{done['task_id']}/audit", json={"accepted": "yes"}, auth=auth).status_code == 400
    assert _ids(client, auth, customer_review_status="rejected") == [rejected["task_id"]]
    assert _ids(client, auth, customer_review_status="accepted,rejected") == [rejected["task_id"], done["task_id"]]
    _complete_test_task(db, pending["task_id"])
    assert _ids(client, auth, customer_review_status="pending") == [pending["task_id"]]
    assert client.get("/v1/tasks", params={"customer_review_status": "odd"}, auth=auth).status_code == 400


def test_updated_at_follows_every_change_and_the_time_filters(client, factory, db):
    customer = factory.customer()
    auth = customer.test_auth
    task = _create(client, auth)
    untouched = _create(client, auth)
    tid = task["task_id"]
    seen = [task["updated_at"]]
    for change in (lambda: client.post(f"/v1/task/{tid}/setMetadata", json={"n": 1}, auth=auth),
                   lambda: client.put(f"/v1/task/{tid}/tags", json=["t"], auth=auth),
                   lambda: client.post(f"/v1/task/{tid}/unique_id", json={"unique_id": "x"}, auth=auth),
                   lambda: _complete_test_task(db, tid),
                   lambda: client.post(f"/v1/task/{tid}/audit", json={"accepted": True}, auth=auth)):
        time.sleep(0.01)
        change()
        seen.append(client.get(f"/v1/task/{tid}", auth=auth).json()["updated_at"])
    assert seen == sorted(set(seen)), seen  # strictly later each time
    mark = format_ms(now_ms() + 5)
    assert _ids(client, auth, updated_after=seen[-1]) == [tid]
    assert _ids(client, auth, updated_before=seen[1]) == [untouched["task_id"]]
    assert _ids(client, auth, updated_after=mark) == []
    completed_at = client.get(f"/v1/task/{tid}", auth=auth).json()["completed_at"]
    assert _ids(client, auth, completed_after=completed_at) == [tid]
    assert _ids(client, auth, completed_before=completed_at) == []
    # scaleapi 2.x's documented format: 'YYYY-MM-DD HH:MM:SS.mmmmmm'.
    assert _ids(client, auth, completed_after="2000-01-01 00:00:00.000000") == [tid]
    assert client.get("/v1/tasks", params={"updated_after": "yesterday"}, auth=auth).status_code == 400
