"""The operator's workers and queue pages through the ASGI app, on both backends."""

from __future__ import annotations

import re

from sqlalchemy import select

from taskforce.models import assignments, tasks, users
from taskforce.tasks import service
from tests.factories import PASSWORD
from tests.integration.test_worker_pages import csrf, sign_in


def test_operator_pages_are_for_operators_only(client, factory):
    assert client.get("/operator/queue", follow_redirects=False).headers["location"] == "/login"
    sign_in(client, factory.user("worker"))
    for path in ("/operator/queue", "/operator/workers"):
        assert client.get(path).status_code == 403
    token = csrf(client.get("/login").text)
    r = client.post("/operator/workers", data={"csrf_token": token, "email": "x@example.test",
                                               "password": PASSWORD})
    assert r.status_code == 403


def test_create_deactivate_reactivate_and_reset(client, factory, db):
    token = sign_in(client, factory.user("operator"))
    assert client.get("/operator", follow_redirects=False).headers["location"] == "/operator/queue"
    r = client.post("/operator/workers", data={"csrf_token": token, "email": "New@Example.test",
                                               "password": PASSWORD})
    assert "Worker new@example.test created" in r.text
    assert 'data-worker="new@example.test"' in r.text
    again = client.post("/operator/workers", data={"csrf_token": token, "email": "new@example.test",
                                                   "password": PASSWORD})
    assert "already exists" in again.text
    short = client.post("/operator/workers", data={"csrf_token": token, "email": "b@example.test",
                                                   "password": "short"})
    assert "at least 8 characters" in short.text
    forged = client.post("/operator/workers", data={"csrf_token": "x", "email": "c@example.test",
                                                    "password": PASSWORD})
    assert "session expired" in forged.text
    with db.read() as conn:
        worker = conn.execute(select(users).where(users.c.email == "new@example.test")).mappings().one()
        assert conn.execute(select(users.c.id).where(users.c.email == "c@example.test")).first() is None

    r = client.post(f"/operator/workers/{worker['id']}/deactivate", data={"csrf_token": token})
    assert "is deactivated" in r.text and "Reactivate" in r.text
    r = client.post(f"/operator/workers/{worker['id']}/password",
                    data={"csrf_token": token, "password": "a brand new one"})
    assert "New password set" in r.text
    r = client.post(f"/operator/workers/{worker['id']}/reactivate", data={"csrf_token": token})
    assert "can sign in again" in r.text
    for bad in ("999999", "abc", "1" * 40):
        r = client.post(f"/operator/workers/{bad}/deactivate", data={"csrf_token": token})
        assert r.status_code == 200 and "no such worker" in r.text


def test_deactivating_releases_the_workers_task(client, factory, db):
    factory.task(factory.customer())
    worker = factory.user("worker")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600)
    token = sign_in(client, factory.user("operator"))
    r = client.post(f"/operator/workers/{worker['id']}/deactivate", data={"csrf_token": token})
    assert "Their task went back to the queue" in r.text
    with db.read() as conn:
        assert conn.execute(select(assignments.c.outcome).where(
            assignments.c.lease_token == lease.token)).scalar() == "released"
        assert conn.execute(select(tasks.c.leases_open).where(tasks.c.id == lease.task_id)).scalar() == 0


def test_an_operator_cannot_be_deactivated_from_the_workers_page(client, factory, db):
    operator = factory.user("operator")
    token = sign_in(client, operator)
    r = client.post(f"/operator/workers/{operator['id']}/deactivate", data={"csrf_token": token})
    assert "no such worker" in r.text


def test_queue_page_shows_depth_oldest_and_leases_and_releases(client, factory, db):
    customer = factory.customer()
    factory.task(customer, urgency="immediate", now=1_000)
    factory.task(customer, "transcription", urgency="week", now=2_000)
    factory.task(customer, "phonecall", urgency="week", now=3_000)
    factory.task(customer, is_test=True)  # not in the workforce's queue
    worker = factory.user("worker", email="holder@example.test")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600)
    token = sign_in(client, factory.user("operator"))
    page = client.get("/operator/queue").text
    assert re.search(r"data-waiting>2<", page)
    assert re.search(r"data-in-progress>1<", page)
    assert f'data-task="{lease.task_id}"' in page and "holder@example.test" in page
    week = re.search(r'<tr data-urgency="week">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="num">(?:<strong>)?(\d+)', week) == ["0", "1", "1", "2"]  # categorization (held), phonecall, transcription, all
    assert "transcription" in page and "data-oldest-age" in page

    r = client.post("/operator/queue/release", data={"csrf_token": token, "task_id": lease.task_id})
    assert "is back in the queue" in r.text
    assert "Nobody is holding a task" in r.text
    r = client.post("/operator/queue/release", data={"csrf_token": token, "task_id": lease.task_id})
    assert "was not held by anyone" in r.text
    r = client.post("/operator/queue/release", data={"csrf_token": token, "task_id": "<script>"})
    assert r.status_code == 200 and "<script>" not in r.text


def test_workers_page_shows_figures(client, factory, db):
    customer = factory.customer()
    worker = factory.user("worker", email="fast@example.test")
    for _ in range(3):
        factory.task(customer)
    for _ in range(3):
        with db.write() as conn:
            lease = service.claim(conn, worker["id"], lease_seconds=600)
            service.complete(conn, lease.task_id, {"category": "public"}, worker_id=worker["id"],
                             lease_token=lease.token)
    sign_in(client, factory.user("operator"))
    page = client.get("/operator/workers").text
    row = re.search(r'<tr class="row-active" data-worker="fast@example.test">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["3", "3"]
    assert "categorization: 0 s" in row, row
