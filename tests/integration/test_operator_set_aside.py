"""The operator's Set aside page through a real HTTP server, on both backends: test tasks the
simulated worker set aside and callbacks the dispatcher set aside are listed (customer text
escaped), retried (the mark cleared, the loop tries again) or closed (canceled / dismissed)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from taskforce.callbacks import dispatcher
from taskforce.callbacks import service as callback_service
from taskforce.clock import now_ms
from taskforce.models import assignments, deliveries, tasks
from taskforce.tasks import service, simulator
from tests.integration.test_worker_pages import csrf, sign_in


@pytest.fixture
def web(server):
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=30) as client:
        yield client


def _set_aside_tasks(db, monkeypatch, *task_ids: str) -> None:
    """Run the simulated worker once with answering broken for these tasks, as a bad row would."""
    real = simulator._answer

    def broken(conn, task_id, now):
        if task_id in task_ids:
            raise ValueError("cannot read the stored params")
        return real(conn, task_id, now)

    monkeypatch.setattr(simulator, "_answer", broken)
    with db.write() as conn:
        simulator.complete_due(conn, now=now_ms(), delay_ms=0)
    monkeypatch.setattr(simulator, "_answer", real)


def _completed_delivery(db, factory, customer) -> tuple[str, int]:
    task = factory.task(customer)
    worker = factory.user("worker")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600)
        service.complete(conn, lease.task_id, {"category": "public"}, worker_id=worker["id"],
                         lease_token=lease.token)
        delivery_id = conn.execute(select(deliveries.c.id).where(deliveries.c.task_id == task["id"])).scalar()
    return task["id"], delivery_id


def _row(db, table, key, value):
    with db.read() as conn:
        return conn.execute(select(table).where(key == value)).mappings().one()


def test_set_aside_page_is_for_operators_only(web, factory):
    assert web.get("/operator/set-aside", follow_redirects=False).headers["location"] == "/login"
    token = sign_in(web, factory.user("worker"))
    assert web.get("/operator/set-aside").status_code == 403
    assert web.post("/operator/set-aside/deliveries/1/retry", data={"csrf_token": token}).status_code == 403


def test_set_aside_test_tasks_are_listed_retried_and_canceled(web, factory, db, monkeypatch):
    customer = factory.customer("Acme <i>Inc</i>")
    retried = factory.task(customer, is_test=True)["id"]
    canceled = factory.task(customer, is_test=True)["id"]
    answered = factory.task(customer, is_test=True)["id"]
    _set_aside_tasks(db, monkeypatch, retried, canceled)
    assert _row(db, tasks, tasks.c.id, answered)["status"] == "completed"

    token = sign_in(web, factory.user("operator"))
    page = web.get("/operator/set-aside").text
    assert f'data-set-aside-task="{retried}"' in page and f'data-set-aside-task="{canceled}"' in page
    assert answered not in page
    assert "Acme &lt;i&gt;Inc&lt;/i&gt;" in page and "<i>Inc" not in page
    assert 'href="/operator/set-aside" class="active"' in page

    r = web.post(f"/operator/set-aside/tasks/{retried}/retry", data={"csrf_token": token})
    assert f"will try test task {retried} again" in r.text
    assert f'data-set-aside-task="{retried}"' not in r.text
    with db.write() as conn:  # the simulated worker takes it again, now that it can
        assert simulator.complete_due(conn, now=now_ms(), delay_ms=0) == [retried]
    assert _row(db, tasks, tasks.c.id, retried)["status"] == "completed"

    r = web.post(f"/operator/set-aside/tasks/{canceled}/cancel", data={"csrf_token": token})
    assert f"Test task {canceled} is canceled" in r.text
    assert _row(db, tasks, tasks.c.id, canceled)["status"] == "canceled"
    assert "The simulated worker has set nothing aside" in r.text

    # Twice, or for a task that was never set aside: a message, nothing changed.
    for path in (f"/operator/set-aside/tasks/{canceled}/cancel", f"/operator/set-aside/tasks/{retried}/retry",
                 f"/operator/set-aside/tasks/{answered}/cancel"):
        r = web.post(path, data={"csrf_token": token})
        assert r.status_code == 200 and "is not set aside" in r.text
    assert _row(db, tasks, tasks.c.id, answered)["status"] == "completed"
    r = web.post("/operator/set-aside/tasks/%3Cscript%3E/retry", data={"csrf_token": token})
    assert r.status_code == 200 and "no task" in r.text and "<script>" not in r.text

    # A stale form changes nothing.
    again = factory.task(customer, is_test=True)["id"]
    _set_aside_tasks(db, monkeypatch, again)
    r = web.post(f"/operator/set-aside/tasks/{again}/cancel", data={"csrf_token": "stale"})
    assert "session expired" in r.text
    assert _row(db, tasks, tasks.c.id, again)["status"] == "pending"
    with db.read() as conn:
        assert [t["id"] for t in simulator.set_aside(conn)] == [again]


def test_a_task_set_aside_twice_is_marked_again(factory, db, monkeypatch):
    """The mark is deleted on retry, so a second failure can write it again (its lease token is
    the task's)."""
    task_id = factory.task(factory.customer(), is_test=True)["id"]
    _set_aside_tasks(db, monkeypatch, task_id)
    with db.write() as conn:
        assert simulator.retry_set_aside(conn, task_id)
        assert not simulator.retry_set_aside(conn, task_id)
    _set_aside_tasks(db, monkeypatch, task_id)
    with db.read() as conn:
        assert [t["id"] for t in simulator.set_aside(conn)] == [task_id]
        assert conn.execute(select(assignments.c.outcome).where(assignments.c.task_id == task_id)).scalars().all() \
            == ["set_aside"]


def test_set_aside_deliveries_are_listed_retried_and_dismissed(web, factory, db):
    customer = factory.customer()
    task_id, delivery_id = _completed_delivery(db, factory, customer)
    with db.write() as conn:
        dispatcher.set_aside(conn, delivery_id, ValueError("body is not <valid> UTF-8"), now=now_ms())

    token = sign_in(web, factory.user("operator"))
    page = web.get("/operator/set-aside").text
    assert f'data-set-aside-delivery="{delivery_id}"' in page and task_id in page
    assert "body is not &lt;valid&gt; UTF-8" in page

    r = web.post(f"/operator/set-aside/deliveries/{delivery_id}/retry", data={"csrf_token": token})
    assert f"Delivery {delivery_id} is owed again" in r.text
    row = _row(db, deliveries, deliveries.c.id, delivery_id)
    assert row["status"] == "pending" and row["last_error"] is None
    with db.write() as conn:  # the dispatcher can claim it again
        assert [c.id for c in dispatcher.claim_due(conn, now=now_ms() + 1, limit=10, lease_ms=30_000)] == [delivery_id]

    with db.write() as conn:
        dispatcher.set_aside(conn, delivery_id, ValueError("still broken"), now=now_ms())
    r = web.post(f"/operator/set-aside/deliveries/{delivery_id}/dismiss", data={"csrf_token": token})
    assert f"Delivery {delivery_id} is dismissed" in r.text
    assert "The dispatcher has set nothing aside" in r.text
    row = _row(db, deliveries, deliveries.c.id, delivery_id)
    assert row["status"] == "failed" and row["last_error"].startswith(dispatcher.DISMISSED_PREFIX)
    assert "still broken" in row["last_error"]
    assert _row(db, tasks, tasks.c.id, task_id)["callback_succeeded"] is False
    with db.read() as conn:
        assert dispatcher.set_aside_deliveries(conn) == []
    for action in ("retry", "dismiss"):
        r = web.post(f"/operator/set-aside/deliveries/{delivery_id}/{action}", data={"csrf_token": token})
        assert r.status_code == 200 and "not set aside" in r.text
    r = web.post("/operator/set-aside/deliveries/abc/retry", data={"csrf_token": token})
    assert r.status_code == 200 and "no such delivery" in r.text


def test_a_redelivered_callback_is_not_retried_from_its_old_delivery(web, factory, db):
    customer = factory.customer()
    task_id, delivery_id = _completed_delivery(db, factory, customer)
    with db.write() as conn:
        dispatcher.set_aside(conn, delivery_id, ValueError("boom"), now=now_ms())
        newer = callback_service.redeliver(conn, task_id, customer.id, now=now_ms())
    token = sign_in(web, factory.user("operator"))
    r = web.post(f"/operator/set-aside/deliveries/{delivery_id}/retry", data={"csrf_token": token})
    assert "a newer delivery of the same callback exists" in r.text
    assert _row(db, deliveries, deliveries.c.id, delivery_id)["status"] == "failed"
    assert _row(db, deliveries, deliveries.c.id, newer)["status"] == "pending"
