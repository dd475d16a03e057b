"""Queue and worker figures (workforce_stats) on both backends: the same numbers from SQLite's
Python median and PostgreSQL's percentile_cont."""

from __future__ import annotations

from taskforce import workforce_stats as stats
from taskforce.tasks import service

MONDAY = 1_800_230_400_000  # 2027-01-18 00:00 UTC, a Monday
NOW = MONDAY + 3 * stats.DAY_MS + 12 * 3_600_000  # Thursday noon


def test_day_and_week_start():
    assert stats.week_start(NOW) == MONDAY
    assert stats.week_start(MONDAY) == MONDAY
    assert stats.week_start(MONDAY - 1) == MONDAY - 7 * stats.DAY_MS
    assert stats.day_start(NOW) == MONDAY + 3 * stats.DAY_MS


def test_format_duration():
    assert [stats.format_duration(ms) for ms in (None, 0, 41_600, 65_000, 3_725_000, 3 * 86_400_000)] == [
        "", "0 s", "42 s", "1 min 05 s", "1 h 02 min", "3 d 0 h"]


def _work(db, worker_id, task_type_answer, claimed_at, seconds):
    with db.write() as conn:
        lease = service.claim(conn, worker_id, lease_seconds=600, now=claimed_at)
        task = service.get(conn, lease.task_id)
        service.complete(conn, lease.task_id, task_type_answer[task["type"]], worker_id=worker_id,
                         lease_token=lease.token, now=claimed_at + seconds * 1000)


ANSWERS = {"categorization": {"category": "public"}, "comparison": {"choice": "yes"}}


def test_worker_figures_counts_and_medians(db, factory):
    customer = factory.customer()
    alice, bob, idle = (factory.user("worker") for _ in range(3))
    # Alice: 4 categorizations this week (2 today), 1 comparison; 1 last week (not counted).
    for i in range(6):
        factory.task(customer, now=i)
    factory.task(customer, "comparison", now=10)
    _work(db, alice["id"], ANSWERS, MONDAY - stats.DAY_MS, 5)          # last week
    _work(db, alice["id"], ANSWERS, MONDAY + 1_000, 10)
    _work(db, alice["id"], ANSWERS, MONDAY + stats.DAY_MS, 20)
    _work(db, alice["id"], ANSWERS, NOW - 3_600_000, 30)               # today
    _work(db, alice["id"], ANSWERS, NOW - 60_000, 50)                  # today
    _work(db, bob["id"], ANSWERS, NOW - 120_000, 7)
    _work(db, alice["id"], ANSWERS, NOW - 30_000, 9)                   # the comparison, today
    with db.read() as conn:
        figures = stats.worker_figures(conn, [alice["id"], bob["id"], idle["id"]], lease_seconds=600, now=NOW)
    a = figures[alice["id"]]
    assert (a.done_today, a.done_this_week) == (3, 5)
    assert a.median_ms == {"categorization": 25_000.0, "comparison": 9_000.0}  # median of 10,20,30,50
    b = figures[bob["id"]]
    assert (b.done_today, b.done_this_week, b.median_ms) == (1, 1, {"categorization": 7_000.0})
    assert figures[idle["id"]] == stats.WorkerFigures()


def test_queue_depth_oldest_and_in_progress(db, factory):
    customer = factory.customer()
    factory.task(customer, urgency="week", now=NOW - 50_000)
    factory.task(customer, urgency="immediate", now=NOW - 40_000)
    factory.task(customer, "comparison", urgency="immediate", now=NOW - 30_000)
    factory.task(customer, urgency="immediate", is_test=True, now=NOW - 90_000)
    worker = factory.user("worker", email="w@example.test")
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=600, now=NOW - 1_000)
    with db.read() as conn:
        depth = stats.queue_depth(conn, now=NOW)
        oldest = stats.oldest_waiting(conn, now=NOW)
        held = stats.in_progress(conn, now=NOW)
    # The immediate categorization was claimed first (urgency before age).
    assert depth.waiting == {("week", "categorization"): 1, ("immediate", "comparison"): 1}
    assert depth.in_progress == {("immediate", "categorization"): 1}
    assert depth.total_waiting() == 2 and depth.total_waiting("immediate") == 1
    assert oldest["urgency"] == "week" and oldest["age_ms"] == 50_000
    assert [(h["id"], h["worker_email"], h["claimed_at"], h["lease_expires_at"]) for h in held] == [
        (lease.task_id, "w@example.test", NOW - 1_000, lease.expires_at)]
    # After the lease runs out the task is waiting again, and no longer in progress.
    later = lease.expires_at + 1
    with db.read() as conn:
        assert stats.queue_depth(conn, now=later).total_waiting() == 3
        assert stats.in_progress(conn, now=later) == []
        assert stats.oldest_waiting(conn, now=later)["age_ms"] == later - (NOW - 50_000)
