"""The work queue on a real database (both backends): order, leases, skips, expiry, and every way
a submission can arrive too late."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from taskforce import accounts
from taskforce.errors import InvalidParameter, LeaseLost
from taskforce.models import assignments, deliveries, task_skips, tasks
from taskforce.tasks import service

LEASE = 600
T0 = 1_800_000_000_000
ANSWER = {"category": "public"}


def claim(db, worker, now=T0):
    with db.write() as conn:
        return service.claim(conn, worker["id"], lease_seconds=LEASE, now=now)


def complete(db, lease, worker, answer=ANSWER, now=T0 + 1000):
    with db.write() as conn:
        return service.complete(conn, lease.task_id, answer, worker_id=worker["id"],
                                lease_token=lease.token, now=now)


def task_row(db, task_id):
    with db.read() as conn:
        return conn.execute(select(tasks).where(tasks.c.id == task_id)).mappings().one()


def open_assignments(db, task_id):
    with db.read() as conn:
        return [(r.worker_id, r.lease_token, r.lease_expires_at) for r in conn.execute(
            select(assignments).where(assignments.c.task_id == task_id, assignments.c.outcome.is_(None)))]


def test_order_is_urgency_then_oldest_and_live_only(db, factory):
    customer = factory.customer()
    factory.task(customer, is_test=True, urgency="immediate", now=T0 - 99_000)  # never to people
    week_old = factory.task(customer, urgency="week", now=T0 - 90_000)
    day_new = factory.task(customer, urgency="day", now=T0 - 10_000)
    day_old = factory.task(customer, urgency="day", now=T0 - 20_000)
    immediate = factory.task(customer, urgency="immediate", now=T0 - 5_000)
    order = []
    worker = factory.user("worker")
    while (lease := claim(db, worker)) is not None:
        order.append(lease.task_id)
        complete(db, lease, worker)
    assert order == [immediate["id"], day_old["id"], day_new["id"], week_old["id"]]


def test_one_lease_per_worker_and_two_workers_never_share(db, factory):
    customer = factory.customer()
    first, second = factory.task(customer, now=T0 - 2), factory.task(customer, now=T0 - 1)
    alice, bob = factory.user("worker"), factory.user("worker")
    lease = claim(db, alice)
    assert lease.task_id == first["id"]
    assert claim(db, alice, now=T0 + 5) == lease  # asking again returns the task already held
    assert claim(db, bob).task_id == second["id"]
    assert claim(db, factory.user("worker")) is None
    assert open_assignments(db, first["id"]) == [(alice["id"], lease.token, T0 + LEASE * 1000)]
    row = task_row(db, first["id"])
    assert (row["leases_open"], row["lease_expires_at"], row["answers_submitted"]) == (1, T0 + LEASE * 1000, 0)


def test_complete_stores_response_outbox_row_and_history(db, factory):
    customer = factory.customer()
    task = factory.task(customer, category_ids={"7": "public", "8": "private"})
    worker = factory.user("worker")
    lease = claim(db, worker)
    done = complete(db, lease, worker, {"category": "private"})
    assert done["status"] == "completed"
    assert done["response"] == {"category": "private", "category_id": "8"}
    row = task_row(db, task["id"])
    assert row["completed_at"] == T0 + 1000
    assert (row["answers_submitted"], row["leases_open"], row["lease_expires_at"]) == (1, 0, None)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)
                            .where(deliveries.c.task_id == task["id"])).scalar() == 1
        history = conn.execute(select(assignments)).mappings().all()
    assert [(h["outcome"], h["worker_id"], h["claimed_at"], h["finished_at"], h["answer"]) for h in history] == [
        ("submitted", worker["id"], T0, T0 + 1000, {"category": "private", "category_id": "8"})]
    # The same lease cannot complete twice.
    with pytest.raises(LeaseLost, match="already completed"):
        complete(db, lease, worker)


def test_invalid_answer_stores_nothing_and_keeps_the_lease(db, factory):
    customer = factory.customer()
    factory.task(customer)
    worker = factory.user("worker")
    lease = claim(db, worker)
    with pytest.raises(InvalidParameter, match="category"):
        complete(db, lease, worker, {"category": "neither"})
    row = task_row(db, lease.task_id)
    assert row["status"] == "pending" and row["response"] is None
    assert open_assignments(db, lease.task_id) == [(worker["id"], lease.token, lease.expires_at)]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar() == 0
    assert complete(db, lease, worker)["status"] == "completed"


def test_skip_is_not_offered_again_to_that_worker(db, factory):
    customer = factory.customer()
    only = factory.task(customer)
    alice, bob = factory.user("worker"), factory.user("worker")
    lease = claim(db, alice)
    with db.write() as conn:
        service.release(conn, lease.task_id, alice["id"], lease.token, skip=True, now=T0 + 1)
        # A double click records the skip once.
        service.release(conn, lease.task_id, alice["id"], lease.token, skip=True, now=T0 + 2)
    assert claim(db, alice, now=T0 + 3) is None
    assert claim(db, bob, now=T0 + 3).task_id == only["id"]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(task_skips)).scalar() == 1
        outcomes = [r.outcome for r in conn.execute(select(assignments.c.outcome).order_by(assignments.c.id))]
    assert outcomes == ["skipped", None]
    with pytest.raises(LeaseLost):
        complete(db, lease, alice)


def test_skipping_a_task_that_does_not_exist_is_harmless(db, factory):
    worker = factory.user("worker")
    with db.write() as conn:
        service.release(conn, "0" * 24, worker["id"], "nope", skip=True)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(task_skips)).scalar() == 0


def test_expired_lease_is_claimable_again_and_late_submit_is_refused(db, factory):
    customer = factory.customer()
    factory.task(customer)
    alice, bob = factory.user("worker"), factory.user("worker")
    lease = claim(db, alice)
    expired = T0 + LEASE * 1000 + 1
    with pytest.raises(LeaseLost, match="went back to the queue"):
        complete(db, lease, alice, now=expired)
    taken = claim(db, bob, now=expired)
    assert taken.task_id == lease.task_id and taken.token != lease.token
    with pytest.raises(LeaseLost, match="another worker has taken it"):
        complete(db, lease, alice, now=expired + 1)
    # An invalid answer on a lost task still says the task is gone, not that the answer is bad.
    with pytest.raises(LeaseLost):
        complete(db, lease, alice, {"category": "neither"}, now=expired + 1)
    assert complete(db, taken, bob, now=expired + 2)["status"] == "completed"
    with db.read() as conn:
        outcomes = [r.outcome for r in conn.execute(select(assignments.c.outcome).order_by(assignments.c.id))]
    assert outcomes == ["expired", "submitted"]


def test_the_lease_holds_until_its_last_millisecond(db, factory):
    factory.task(factory.customer())
    alice, bob = factory.user("worker"), factory.user("worker")
    lease = claim(db, alice)
    assert claim(db, bob, now=lease.expires_at) is None
    assert complete(db, lease, alice, now=lease.expires_at)["status"] == "completed"


def test_customer_cancel_refuses_the_submission(db, factory):
    customer = factory.customer()
    task = factory.task(customer)
    worker = factory.user("worker")
    lease = claim(db, worker)
    with db.write() as conn:
        service.cancel(conn, task["id"], customer_id=customer.id, is_test=False)
    with pytest.raises(LeaseLost, match="canceled"):
        complete(db, lease, worker)
    assert task_row(db, task["id"])["status"] == "canceled"
    assert claim(db, worker) is None


def test_a_deactivated_worker_cannot_submit(db, factory):
    factory.task(factory.customer())
    worker = factory.user("worker")
    lease = claim(db, worker)
    with db.write() as conn:
        accounts.set_active(conn, worker["id"], False)
    with pytest.raises(LeaseLost, match="not active"):
        complete(db, lease, worker)
    assert task_row(db, lease.task_id)["status"] == "pending"


def test_releasing_a_deactivated_workers_leases(db, factory):
    customer = factory.customer()
    factory.task(customer)
    worker, other = factory.user("worker"), factory.user("worker")
    lease = claim(db, worker)
    with db.write() as conn:
        assert service.release_worker_leases(conn, worker["id"], now=T0 + 1) == 1
    assert claim(db, other, now=T0 + 2).task_id == lease.task_id


def test_operator_release_frees_a_stuck_lease(db, factory):
    factory.task(factory.customer())
    alice, bob = factory.user("worker"), factory.user("worker")
    lease = claim(db, alice)
    with db.write() as conn:
        assert service.operator_release(conn, lease.task_id, now=T0 + 1) is True
        assert service.operator_release(conn, lease.task_id, now=T0 + 2) is False
    with pytest.raises(LeaseLost):
        complete(db, lease, alice)
    assert claim(db, bob, now=T0 + 3).task_id == lease.task_id
    with db.read() as conn:
        outcomes = [r.outcome for r in conn.execute(select(assignments.c.outcome).order_by(assignments.c.id))]
    assert outcomes == ["released", None]


def test_a_new_lease_of_the_same_worker_voids_the_old_copy(db, factory):
    factory.task(factory.customer())
    worker = factory.user("worker")
    old = claim(db, worker)
    new = claim(db, worker, now=old.expires_at + 1)
    assert new.task_id == old.task_id and new.token != old.token
    with pytest.raises(LeaseLost, match="newest copy"):
        complete(db, old, worker, now=old.expires_at + 2)
    assert complete(db, new, worker, now=old.expires_at + 3)["status"] == "completed"
