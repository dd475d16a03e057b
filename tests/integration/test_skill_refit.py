"""Worker skills (issue 10), both backends: the background re-fit learns each worker's
confusion matrix from their answers with this customer; the next combined task weighs them by it
(Dawid-Skene); damaged rows are left out and a failing step never stops the loop."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from taskforce.models import skill_models, tasks
from taskforce.quality import refit, store
from taskforce.tasks import service

LEASE = 600
T0 = 1_800_000_000_000
DAY = 86_400_000


def answer(db, worker, response, now):
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=LEASE, now=now)
        assert lease is not None
        return service.complete(conn, lease.task_id, response, worker_id=worker["id"],
                                lease_token=lease.token, now=now + 100)


def flip(category):
    return "private" if category == "public" else "public"


def test_refit_learns_who_is_right_and_the_next_task_uses_it(db, factory):
    customer = factory.customer()
    good, also_good, wrong = (factory.user("worker") for _ in range(3))
    for i in range(24):
        truth = "public" if i % 3 else "private"
        factory.task(customer, now=T0 + i, overlap=3)
        now = T0 + 1000 * (i + 1)
        answer(db, good, {"category": truth}, now)
        answer(db, also_good, {"category": truth}, now + 10)
        answer(db, wrong, {"category": flip(truth)}, now + 20)
    # A damaged task (its categories gone) is left out, not a failure.
    with db.write() as conn:
        broken = conn.execute(select(tasks.c.id).limit(1)).scalar_one()
        conn.execute(update(tasks).where(tasks.c.id == broken).values(params={"x": 1}))
    assert refit.refit_all(db, now=T0 + DAY, window_ms=30 * DAY) == 1
    with db.read() as conn:
        model = store.load(conn, customer.id, False)
        version = conn.execute(select(skill_models.c.version)).scalar_one()
    assert model.weight(good["id"], "categorization") > 1.0 > model.weight(wrong["id"], "categorization")
    assert version == 1

    # 2:1 by a majority is 0.7 sure; knowing that the third worker is always wrong, their
    # dissent is evidence for the others, and Dawid-Skene is far surer.
    newcomer = factory.user("worker")
    task = factory.task(customer, now=T0 + 2 * DAY, overlap=3)
    answer(db, wrong, {"category": "public"}, T0 + 2 * DAY + 1000)
    answer(db, newcomer, {"category": "private"}, T0 + 2 * DAY + 1500)
    done = answer(db, good, {"category": "private"}, T0 + 2 * DAY + 2000)
    assert done["id"] == task["id"] and done["status"] == "completed"
    assert done["response"] == {"category": "private"}
    assert done["quality"]["method"] == "dawid_skene" and done["quality"]["confidence"] > 0.95
    weights = done["quality"]["weights"]
    assert weights[0] < weights[1] < weights[2]  # wrong < unknown (1.0) < good

    # Two who agree against the good worker: the always-wrong worker's "public" is evidence
    # against it, so Dawid-Skene sides with the good worker; two answers agreeing is no deadlock.
    task = factory.task(customer, now=T0 + 2 * DAY + 5, overlap=3)
    answer(db, wrong, {"category": "public"}, T0 + 2 * DAY + 3000)
    answer(db, newcomer, {"category": "public"}, T0 + 2 * DAY + 3500)
    done = answer(db, good, {"category": "private"}, T0 + 2 * DAY + 4000)
    assert done["id"] == task["id"] and done["status"] == "completed"
    assert done["response"] == {"category": "private"} and done["quality"]["method"] == "dawid_skene"
    assert done["quality"]["agreement"] == {"category": pytest.approx(1 / 3, abs=1e-3)}

    # A second fit replaces the model (a new version, which processes notice).
    refit.refit_all(db, now=T0 + 3 * DAY, window_ms=30 * DAY)
    with db.read() as conn:
        assert conn.execute(select(skill_models.c.version)).scalar_one() == 2
        assert store.load(conn, customer.id, False) is not model


def test_a_damaged_stored_model_counts_as_no_history(db, factory):
    customer = factory.customer()
    with db.write() as conn:
        conn.execute(skill_models.insert().values(customer_id=customer.id, is_test=False,
                                                  model={"workers": {"categorization": {"x": 5}}},
                                                  version=1, fitted_at=T0))
    with db.read() as conn:
        assert store.load(conn, customer.id, False).workers == {}


def test_the_loop_survives_a_failing_step_and_stops_cleanly(db, monkeypatch):
    calls = []

    def step(self):
        calls.append(1)
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(refit.SkillRefitter, "step", step)

    async def main():
        loop = asyncio.create_task(refit.SkillRefitter(db, interval_seconds=0.01, window_days=1).run())
        while len(calls) < 3:
            await asyncio.sleep(0.01)
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop

    asyncio.run(main())
    assert len(calls) >= 3


def test_gold_answers_feed_the_refit(db, factory):
    """Issue 10: a worker's matrix is estimated from their gold answers too. Two workers with the
    same little history (they agreed on the same two tasks) differ only on gold: the one right on
    gold must weigh more than the one wrong on it, and their gold record is in the model."""
    from tests.integration.test_gold import make_gold

    customer = factory.customer()
    right, wrong, third = (factory.user("worker") for _ in range(3))
    for i in range(2):
        factory.task(customer, now=T0 + i, overlap=3)
        now = T0 + 1000 * (i + 1)
        for n, worker in enumerate((right, wrong, third)):
            answer(db, worker, {"category": "public"}, now + 10 * n)
    for i in range(4):
        make_gold(db, customer, category="private" if i % 2 else "public", now=T0 + 10_000 + i)
    for worker, correct in ((right, True), (wrong, False)):
        for i in range(4):
            now = T0 + 20_000 + 1000 * i
            with db.write() as conn:
                lease = service.claim(conn, worker["id"], lease_seconds=LEASE, now=now, gold_rate=1.0)
                assert lease is not None
                expected = conn.execute(select(tasks.c.expected_response).where(
                    tasks.c.id == lease.task_id, tasks.c.gold.is_(True))).scalar_one()
                given = expected["category"] if correct else flip(expected["category"])
                service.complete(conn, lease.task_id, {"category": given}, worker_id=worker["id"],
                                 lease_token=lease.token, now=now + 100)
    assert refit.refit_all(db, now=T0 + DAY, window_ms=30 * DAY) == 1
    with db.read() as conn:
        model = store.load(conn, customer.id, False)
    assert model.weight(right["id"], "categorization") > 1.0 > model.weight(wrong["id"], "categorization")
    assert model.weight(right["id"], "categorization") > model.weight(third["id"], "categorization")
    skill = model.skill(wrong["id"], "categorization")
    assert (skill.gold_answers, skill.gold_correct) == (4, 0)
    assert model.skill(right["id"], "categorization").gold_correct == 4

    # Gold alone (a customer with no combined task in the window) still makes a model.
    other, newcomer = factory.customer(), factory.user("worker")
    make_gold(db, other, category="public", now=T0 - 1)  # the oldest gold: the newcomer's first
    with db.write() as conn:
        lease = service.claim(conn, newcomer["id"], lease_seconds=LEASE, now=T0 + 40_000, gold_rate=1.0)
        assert lease is not None
        service.complete(conn, lease.task_id, {"category": "public"}, worker_id=newcomer["id"],
                         lease_token=lease.token, now=T0 + 40_100)
    assert refit.refit_all(db, now=T0 + DAY, window_ms=30 * DAY) == 2
    with db.read() as conn:
        assert store.load(conn, other.id, False).skill(newcomer["id"], "categorization").gold_correct == 1


def test_warm_parses_each_stored_model_once_per_version_ahead_of_requests(db, factory):
    """A server process parses the models before a completing transaction needs them (the
    parse of a large model would otherwise hold the task's lock); a load then only checks the
    version, and a re-fit's new version is parsed by the next warm."""
    from sqlalchemy import event

    customer, other = factory.customer(), factory.customer()
    with db.write() as conn:
        for who in (customer, other):
            conn.execute(skill_models.insert().values(customer_id=who.id, is_test=False,
                                                      model={"workers": {}}, version=1, fitted_at=T0))
    assert store.warm(db) == 2
    assert store.warm(db) == 0  # nothing new
    reads: list[str] = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: reads.append(statement))
    with db.read() as conn:
        store.load(conn, customer.id, False)
    assert not any("skill_models.model" in s for s in reads), reads  # the version check alone
    with db.write() as conn:
        conn.execute(update(skill_models).where(skill_models.c.customer_id == other.id)
                     .values(version=2, fitted_at=T0 + 1))
    assert store.warm(db) == 1
