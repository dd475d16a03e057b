"""A user of customer A can never see or act on customer B's keys, tasks, secrets or deliveries:
every dashboard page and action, tried by A against B's things, through real sessions."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from taskforce import customers
from taskforce.clock import now_ms
from taskforce.ids import api_key_prefix
from taskforce.models import api_keys, deliveries, tasks

from tests.integration.test_dashboard import complete_test_task, post, signed_in


@pytest.fixture
def world(app, factory, db):
    """Customers A and B, each with a user, a pending and a completed task (with a delivery)."""
    out = {}
    for name in ("alpha", "bravo"):
        customer = factory.customer(name)
        user = factory.user("customer", customer_id=customer.id)
        pending = factory.task(customer, instruction=f"{name} pending secret instruction")
        done = factory.task(customer, is_test=True, instruction=f"{name} completed secret instruction")
        complete_test_task(db, done, {"category": "public"}, now=now_ms())
        with db.read() as conn:
            row = customers.find_customer(conn, str(customer.id))
        out[name] = {"customer": customer, "user": user, "pending": pending, "done": done, "row": row,
                     "client": signed_in(app, user["email"])}
    return out


def _b_things(world) -> list[str]:
    b = world["bravo"]
    return [b["pending"]["id"], b["done"]["id"], "bravo pending secret", "bravo completed secret",
            b["row"]["callback_auth_key"], b["row"]["signing_secret"],
            api_key_prefix(b["customer"].live_key), api_key_prefix(b["customer"].test_key)]


def test_no_page_of_a_shows_anything_of_b(world):
    a = world["alpha"]["client"]
    pages = ["/dashboard", "/dashboard?mode=test", "/dashboard/keys", "/dashboard/callbacks",
             "/dashboard/tasks", "/dashboard/tasks?mode=test", "/dashboard/tasks?status=completed&mode=test",
             "/dashboard/tasks?type=categorization", f"/dashboard/tasks/{world['alpha']['done']['id']}"]
    for path in pages:
        html = a.get(path).text
        for thing in _b_things(world):
            assert thing not in html, (path, thing)
    # ...while A's own things are there.
    assert world["alpha"]["pending"]["id"] in a.get("/dashboard/tasks").text
    callbacks = a.get("/dashboard/callbacks").text
    assert world["alpha"]["row"]["signing_secret"] in callbacks
    assert world["alpha"]["done"]["id"] in callbacks.split("Recent deliveries")[1]


def test_overview_counts_only_a(world, factory):
    for _ in range(4):
        factory.task(world["bravo"]["customer"])
    html = world["alpha"]["client"].get("/dashboard").text
    assert re.search(r'data-status="pending">\s*<span class="stat-label">\w+</span>\s*<span class="stat-value">1<', html)


def test_a_cannot_open_bs_tasks(world):
    a = world["alpha"]["client"]
    for task in (world["bravo"]["pending"], world["bravo"]["done"]):
        response = a.get(f"/dashboard/tasks/{task['id']}")
        assert response.status_code == 404 and "secret instruction" not in response.text


def test_a_cannot_cancel_or_redeliver_bs_tasks(world, db):
    a = world["alpha"]["client"]
    b = world["bravo"]
    assert post(a, f"/dashboard/tasks/{b['pending']['id']}/cancel").status_code == 404
    assert post(a, f"/dashboard/tasks/{b['done']['id']}/redeliver").status_code == 404
    with db.read() as conn:
        assert conn.execute(select(tasks.c.status).where(tasks.c.id == b["pending"]["id"])).scalar() == "pending"
        owed = conn.execute(select(deliveries.c.status).where(deliveries.c.task_id == b["done"]["id"])).scalars().all()
    assert owed == ["pending"]  # the one delivery from completion, no redelivery added


def test_a_cannot_revoke_bs_key(world, client):
    a = world["alpha"]["client"]
    b = world["bravo"]["customer"]
    assert post(a, "/dashboard/keys/revoke", {"prefix": api_key_prefix(b.live_key)}).status_code == 404
    assert client.get("/v1/tasks", auth=b.live_auth).status_code == 200


def test_keys_a_creates_belong_to_a(world, db):
    a = world["alpha"]
    post(a["client"], "/dashboard/keys", {"mode": "live"})
    with db.read() as conn:
        owners = conn.execute(select(api_keys.c.customer_id)).scalars().all()
    assert owners.count(a["customer"].id) == 3 and owners.count(world["bravo"]["customer"].id) == 2


def test_rotations_by_a_leave_b_alone(world, db):
    a = world["alpha"]["client"]
    post(a, "/dashboard/callbacks/rotate", {"secret": "signing_secret"})
    post(a, "/dashboard/callbacks/rotate", {"secret": "callback_auth_key"})
    with db.read() as conn:
        b_now = customers.find_customer(conn, str(world["bravo"]["customer"].id))
        a_now = customers.find_customer(conn, str(world["alpha"]["customer"].id))
    assert b_now == world["bravo"]["row"]
    assert a_now["signing_secret"] != world["alpha"]["row"]["signing_secret"]


def test_a_form_cannot_name_another_customer(world, db):
    """Extra fields (customer_id) in a form are ignored: the customer is the signed-in user's."""
    a = world["alpha"]["client"]
    b_id = str(world["bravo"]["customer"].id)
    post(a, "/dashboard/keys", {"mode": "live", "customer_id": b_id})
    post(a, "/dashboard/callbacks/rotate", {"secret": "signing_secret", "customer_id": b_id})
    with db.read() as conn:
        assert len(conn.execute(select(api_keys.c.id).where(api_keys.c.customer_id == int(b_id))).all()) == 2
        assert customers.find_customer(conn, b_id) == world["bravo"]["row"]


def test_a_cursor_from_b_shows_nothing_of_b(world, client, factory):
    """B's API next_token, pasted into A's table, pages A's tasks only."""
    b = world["bravo"]["customer"]
    factory.task(b)
    token = client.get("/v1/tasks?limit=1", auth=b.live_auth).json()["next_token"]
    assert token
    html = world["alpha"]["client"].get(f"/dashboard/tasks?next_token={token}").text
    for thing in _b_things(world):
        assert thing not in html
