"""The Workers page's skill figures (both backends): agreement with final answers, answers per
hour, and the flags too fast, too many skips and low gold accuracy."""

from __future__ import annotations

from sqlalchemy import update

from taskforce.models import tasks
from taskforce.quality import gold
from taskforce.quality.worker_skill import worker_skills
from taskforce.tasks import service
from tests.integration.test_gold import make_gold

T0 = 1_800_000_000_000


def work(db, worker, category, start, took_ms):
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600, now=start, gold_rate=0.0)
    with db.write() as conn:
        service.complete(conn, lease.task_id, {"category": category}, worker_id=worker["id"],
                         lease_token=lease.token, now=start + took_ms)
    return lease.task_id


def test_speed_agreement_and_per_hour(db, factory):
    customer = factory.customer()
    slow, quick = factory.user("worker"), factory.user("worker")
    for i in range(6):
        task = factory.task(customer, now=T0 + i)
        with db.write() as conn:
            conn.execute(update(tasks).where(tasks.c.id == task["id"]).values(answers_needed=2))
        work(db, slow, "public", T0 + i * 100_000, 60_000)       # a minute each
        work(db, quick, "private" if i % 2 else "public", T0 + i * 100_000 + 1, 2_000)  # two seconds
    with db.write() as conn:  # the final answers, whichever way they were reached (combined or reviewed)
        conn.execute(update(tasks).where(tasks.c.customer_id == customer.id)
                     .values(response={"category": "public"}, status="completed", completed_at=T0 + 1_000_000))
    with db.read() as conn:
        skills = worker_skills(conn, [slow["id"], quick["id"]], now=T0 + 3_600_000)
    s, q = skills[slow["id"]], skills[quick["id"]]
    assert s.answers_per_hour == 60.0 and q.answers_per_hour == 1800.0
    assert q.flags == ["too fast (categorization)"] and s.flags == []
    assert s.types["categorization"].agreement == 1.0
    assert q.types["categorization"].agreement == 0.5 and q.types["categorization"].compared == 6


def test_skips_and_low_gold_flags(db, factory):
    customer = factory.customer()
    skipper = factory.user("worker")
    for i in range(10):
        factory.task(customer, now=T0 + i)
    for i in range(6):
        with db.write() as conn:
            lease = service.claim(conn, skipper["id"], lease_seconds=600, now=T0 + i, gold_rate=0.0)
            service.release(conn, lease.task_id, skipper["id"], lease.token, skip=True, now=T0 + i)
    for i in range(4):
        work(db, skipper, "public", T0 + 100 + i, 1000)
    guesser = factory.user("worker")
    with db.write() as conn:
        gold.set_rules(conn, min_accuracy=0.6, min_answers=2)
    for i in range(2):
        make_gold(db, customer, category="private", now=T0 + 50 + i)
        with db.write() as conn:
            lease = service.claim(conn, guesser["id"], lease_seconds=600, now=T0 + 200 + i, gold_rate=1.0)
            service.complete(conn, lease.task_id, {"category": "public"}, worker_id=guesser["id"],
                             lease_token=lease.token, now=T0 + 300 + i)
    with db.read() as conn:
        skills = worker_skills(conn, [skipper["id"], guesser["id"]], now=T0 + 1000)
    assert skills[skipper["id"]].flags == ["too many skips"]
    assert skills[guesser["id"]].flags == ["low gold accuracy (categorization)"]
    g = skills[guesser["id"]].types["categorization"]
    assert (g.gold_answers, g.gold_correct, g.gold_accuracy) == (2, 0, 0.0)
    low, high = g.gold_interval
    assert low == 0.0 and 0.6 < high < 0.7
