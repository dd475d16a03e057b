"""Assignments as the queue's unit (both backends): tasks needing several answers hand out at most
as many leases as answers still needed, never twice to one worker, combine the answers once
the last one is in; held tasks reach nobody; the simulated worker's answers are recorded."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from taskforce.errors import LeaseLost
from taskforce.models import assignments, deliveries, tasks
from taskforce.task_types.answers import Combined
from taskforce.tasks import service, simulator
from taskforce.workforce_stats import oldest_waiting, queue_depth

LEASE = 600
T0 = 1_800_000_000_000


def claim(db, worker, now=T0):
    with db.write() as conn:
        return service.claim(conn, worker["id"], lease_seconds=LEASE, now=now)


def complete(db, lease, worker, answer, now=T0 + 1000):
    with db.write() as conn:
        return service.complete(conn, lease.task_id, answer, worker_id=worker["id"],
                                lease_token=lease.token, now=now)


def set_task(db, task_id, **values):
    with db.write() as conn:
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(**values))


def counters(db, task_id):
    with db.read() as conn:
        row = conn.execute(select(tasks.c.answers_submitted, tasks.c.leases_open, tasks.c.lease_expires_at)
                           .where(tasks.c.id == task_id)).one()
    return tuple(row)


def outbox_rows(db):
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(deliveries)).scalar_one()


def test_two_answers_needed_two_leases_then_combined_once(db, factory, monkeypatch):
    task = factory.task(factory.customer())
    set_task(db, task["id"], answers_needed=2)
    ann, bob, cat = (factory.user("worker") for _ in range(3))
    seen = []

    def combine(params, answers, skills=None):
        seen.append([(a.worker_id, dict(a.response), a.duration_ms) for a in answers])
        return Combined(response=dict(answers[-1].response), confidence=0.5, method="test")

    # TaskType is frozen; the type's hook is looked up through service._combine_hook.
    monkeypatch.setattr(service, "_combine_hook", lambda task_type, given: combine)
    a, b = claim(db, ann), claim(db, bob, now=T0 + 10)
    assert a.task_id == b.task_id == task["id"]
    assert claim(db, cat, now=T0 + 20) is None  # both slots are held
    assert counters(db, task["id"]) == (0, 2, T0 + LEASE * 1000)

    first = complete(db, a, ann, {"category": "public"}, now=T0 + 1000)
    assert first["status"] == "pending" and first["response"] is None and outbox_rows(db) == 0
    assert counters(db, task["id"]) == (1, 1, T0 + 10 + LEASE * 1000)
    assert claim(db, ann, now=T0 + 1500) is None  # ann has answered it: never handed to her again
    with pytest.raises(LeaseLost, match="already answered"):
        complete(db, a, ann, {"category": "public"}, now=T0 + 1600)

    done = complete(db, b, bob, {"category": "private"}, now=T0 + 2010)
    assert done["status"] == "completed" and done["response"] == {"category": "private"}
    assert seen == [[(ann["id"], {"category": "public"}, 1000), (bob["id"], {"category": "private"}, 2000)]]
    assert counters(db, task["id"]) == (2, 0, None) and outbox_rows(db) == 1
    with db.read() as conn:
        stored = [(r.worker_id, r.outcome, r.answer) for r in conn.execute(
            select(assignments).order_by(assignments.c.id))]
    assert stored == [(ann["id"], "submitted", {"category": "public"}),
                      (bob["id"], "submitted", {"category": "private"})]


def test_a_run_out_slot_of_several_is_taken_over_and_the_late_answer_refused(db, factory):
    task = factory.task(factory.customer())
    set_task(db, task["id"], answers_needed=2)
    ann, bob, cat = (factory.user("worker") for _ in range(3))
    a = claim(db, ann)
    b = claim(db, bob, now=T0 + 5000)
    later = a.expires_at + 1  # ann's lease ran out, bob's has not
    with db.read() as conn:
        assert oldest_waiting(conn, now=later)["id"] == task["id"]
    c = claim(db, cat, now=later)
    assert c.task_id == task["id"]
    assert counters(db, task["id"]) == (0, 2, b.expires_at)
    with pytest.raises(LeaseLost, match="another worker has taken it"):
        complete(db, a, ann, {"category": "public"}, now=later + 1)
    complete(db, b, bob, {"category": "public"}, now=later + 2)
    assert complete(db, c, cat, {"category": "public"}, now=later + 3)["status"] == "completed"
    with db.read() as conn:
        outcomes = [r.outcome for r in conn.execute(select(assignments.c.outcome).order_by(assignments.c.id))]
    assert outcomes == ["expired", "submitted", "submitted"]


def test_concurrent_claimers_never_exceed_the_answers_needed(db, factory):
    task = factory.task(factory.customer())
    set_task(db, task["id"], answers_needed=3)
    workers = [factory.user("worker") for _ in range(8)]
    got: list[str | None] = []
    start = threading.Barrier(len(workers))

    def run(worker):
        start.wait()
        lease = claim(db, worker)
        got.append(lease and lease.task_id)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # On PostgreSQL claimers skip a task another claimer has locked (SKIP LOCKED), so a
    # concurrent round may fill fewer slots; asking again fills the rest, and never more.
    assert 1 <= got.count(task["id"]) <= 3 and got.count(None) == len(workers) - got.count(task["id"])
    for worker in workers:
        claim(db, worker, now=T0 + 1)
    with db.read() as conn:
        holders = conn.execute(select(assignments.c.worker_id).where(assignments.c.outcome.is_(None))).scalars().all()
    assert len(holders) == len(set(holders)) == 3
    assert counters(db, task["id"])[:2] == (0, 3)


def test_a_worker_never_answers_one_task_twice_even_by_hand(db, factory):
    task = factory.task(factory.customer())
    worker = factory.user("worker")
    row = {"task_id": task["id"], "worker_id": worker["id"], "claimed_at": T0, "outcome": "submitted"}
    with pytest.raises(IntegrityError):
        with db.write() as conn:
            conn.execute(assignments.insert(), [{**row, "lease_token": "t1"}, {**row, "lease_token": "t2"}])


def test_a_held_task_reaches_no_worker_until_released(db, factory):
    customer = factory.customer()
    held = factory.task(customer, now=T0 - 2000)
    other = factory.task(customer, now=T0 - 1000)
    set_task(db, held["id"], held=True)
    ann, bob = factory.user("worker"), factory.user("worker")
    with db.read() as conn:
        assert queue_depth(conn, now=T0).total_waiting() == 1
        assert oldest_waiting(conn, now=T0)["id"] == other["id"]
    assert claim(db, ann).task_id == other["id"]
    assert claim(db, bob) is None
    set_task(db, held["id"], held=False)
    assert claim(db, bob, now=T0 + 1).task_id == held["id"]


def test_the_simulated_worker_skips_held_test_tasks_and_records_its_answers(db, factory):
    customer = factory.customer()
    held = factory.task(customer, is_test=True, now=T0)
    twice = factory.task(customer, is_test=True, now=T0)
    set_task(db, held["id"], held=True)
    set_task(db, twice["id"], answers_needed=2)
    # A task needing two answers gets them from two simulated workers of the crowd, in one pass.
    with db.write() as conn:
        assert simulator.complete_due(conn, now=T0 + 5000, delay_ms=1000) == [twice["id"]]
    assert counters(db, twice["id"]) == (2, 0, None)
    with db.write() as conn:
        assert simulator.complete_due(conn, now=T0 + 6000, delay_ms=1000) == []
    with db.read() as conn:
        done = service.get(conn, twice["id"])
        assert service.get(conn, held["id"])["status"] == "pending"
        answers = service.answers(conn, twice["id"])
        crowd = conn.execute(select(assignments.c.simulated_worker).where(
            assignments.c.task_id == twice["id"]).order_by(assignments.c.id)).scalars().all()
    assert [(a.worker_id, a.duration_ms) for a in answers] == [(None, None), (None, None)]
    assert crowd == [0, 1]
    # Two answers that agree complete it; two that disagree wait for an operator's review.
    agree = answers[0].response == answers[1].response
    assert done["status"] == ("completed" if agree else "pending")
