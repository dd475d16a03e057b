"""A batch's completion callback on the customer dashboard, through a real HTTP server on both
backends: listed among the deliveries with its status, attempts and last error (it has no task,
and the list used to join on tasks, so it never showed), and redelivered like a task's."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from sqlalchemy import select

from taskforce.callbacks.dispatcher import Dispatcher
from taskforce.models import batches, deliveries
from tests.factories import PASSWORD, VALID_PARAMS
from tests.integration.test_callback_helpers import Answer, Receiver

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _client(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, follow_redirects=True, timeout=30)


def _signed_in(server, email: str) -> httpx.Client:
    client = _client(server)
    token = _CSRF.search(client.get("/login").text).group(1)
    r = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def _token(client) -> str:
    return _CSRF.search(client.get("/dashboard/callbacks").text).group(1)


def _completed_batch(api: httpx.Client, auth, name: str, callback: str) -> None:
    """A batch of one task, finalised, and that task canceled: the batch completes."""
    assert api.post("/v1/projects", json={"type": "categorization", "name": f"p-{name}", "params": {}},
                    auth=auth).status_code == 200
    r = api.post("/v1/batches", json={"project": f"p-{name}", "name": name, "callback": callback}, auth=auth)
    assert r.status_code == 200, r.text
    task = api.post("/v1/task/categorization", json={**VALID_PARAMS["categorization"], "batch": name},
                    auth=auth).json()
    assert api.post(f"/v1/batches/{name}/finalize", auth=auth).status_code == 200
    assert api.post(f"/v1/task/{task['task_id']}/cancel", auth=auth).status_code == 200
    assert api.get(f"/v1/batches/{name}", auth=auth).json()["status"] == "completed"


def _batch_deliveries(db):
    with db.read() as conn:
        return [dict(r) for r in conn.execute(select(deliveries).where(deliveries.c.batch_id.is_not(None))
                                              .order_by(deliveries.c.id)).mappings()]


@pytest.fixture
def acme(factory):
    customer = factory.customer("acme")
    user = factory.user("customer", customer_id=customer.id)
    return customer, user


def test_batch_callback_is_listed_and_redelivered(server, factory, db, settings, acme):
    customer, user = acme
    answers = iter([Answer(status=503, body=b"busy"), Answer()])
    with Receiver(answer=lambda n, got: next(answers)) as receiver, _client(server) as api:
        _completed_batch(api, customer.live_auth, "spring <b>run</b>", receiver.url + "/batch")
        asyncio.run(Dispatcher(db, settings).run_once())  # answered 503: retried later
        receiver.wait_for(1)
        (first,) = _batch_deliveries(db)
        assert first["status"] == "pending" and first["attempts"] == 1

        dashboard = _signed_in(server, user["email"])
        page = dashboard.get("/dashboard/callbacks").text
        row = re.search(rf'<tr data-batch-delivery="{first["id"]}">(.*?)</tr>', page, re.S).group(1)
        assert "spring &lt;b&gt;run&lt;/b&gt;" in row and "<b>run" not in row
        assert '<span class="badge pending">pending</span>' in row
        assert "<td>1</td>" in row and "HTTP 503" in row

        r = dashboard.post(f"/dashboard/callbacks/batches/{first['batch_id']}/redeliver",
                           data={"csrf_token": _token(dashboard)})
        assert r.status_code == 200 and "will be sent again" in r.text
        old, new = _batch_deliveries(db)
        assert old["status"] == "failed" and old["last_error"] == "superseded by a redelivery"
        assert new["status"] == "pending" and new["webhook_id"] != old["webhook_id"]
        assert json.loads(new["body"])["batch"]["name"] == "spring <b>run</b>"
        assert f'data-batch-delivery="{new["id"]}"' in r.text

        asyncio.run(Dispatcher(db, settings).run_once())
        got = receiver.wait_for(2)
    assert got[1].headers["webhook-id"] == new["webhook_id"]
    assert json.loads(got[1].body)["counts"]["canceled"] == 1
    page = dashboard.get("/dashboard/callbacks").text
    row = re.search(rf'<tr data-batch-delivery="{new["id"]}">(.*?)</tr>', page, re.S).group(1)
    assert '<span class="badge delivered">delivered</span>' in row
    dashboard.close()


def test_batch_redelivery_is_refused_when_it_cannot_apply(server, factory, db, acme):
    customer, user = acme
    with _client(server) as api:
        _completed_batch(api, customer.live_auth, "done", "http://127.0.0.1:9/batch")
        _completed_batch(api, customer.live_auth, "quiet", "")  # no callback URL
        assert api.post("/v1/projects", json={"type": "categorization", "name": "p-open", "params": {}},
                        auth=customer.live_auth).status_code == 200
        api.post("/v1/batches", json={"project": "p-open", "name": "open", "callback": "http://127.0.0.1:9/b"},
                 auth=customer.live_auth)
        listed = {b["name"]: b for b in api.get("/v1/batches", auth=customer.live_auth).json()["docs"]}
    assert set(listed) == {"done", "quiet", "open"}
    (done,) = _batch_deliveries(db)
    with db.read() as conn:
        ids = dict(conn.execute(select(batches.c.name, batches.c.id)).all())

    dashboard = _signed_in(server, user["email"])
    r = dashboard.post(f"/dashboard/callbacks/batches/{ids['open']}/redeliver", data={"csrf_token": _token(dashboard)})
    assert "open&#39; is staging; its callback is sent when it completes" in r.text
    r = dashboard.post(f"/dashboard/callbacks/batches/{ids['quiet']}/redeliver", data={"csrf_token": _token(dashboard)})
    assert "quiet&#39; has no callback URL" in r.text
    for bad in ("999999", "abc", "1" * 40):
        r = dashboard.post(f"/dashboard/callbacks/batches/{bad}/redeliver", data={"csrf_token": _token(dashboard)})
        assert r.status_code == 404
    r = dashboard.post(f"/dashboard/callbacks/batches/{ids['done']}/redeliver", data={"csrf_token": "stale"})
    assert r.status_code == 400
    assert len(_batch_deliveries(db)) == 1

    # Another customer cannot name it.
    other = factory.customer("other")
    stranger = _signed_in(server, factory.user("customer", customer_id=other.id)["email"])
    r = stranger.post(f"/dashboard/callbacks/batches/{ids['done']}/redeliver", data={"csrf_token": _token(stranger)})
    assert r.status_code == 404
    assert 'data-batch-delivery' not in stranger.get("/dashboard/callbacks").text
    assert [d["id"] for d in _batch_deliveries(db)] == [done["id"]]
    dashboard.close()
    stranger.close()
