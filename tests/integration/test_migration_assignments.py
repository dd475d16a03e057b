"""Migration 0003 carries a 0002 database's tasks forward in every state: live and run-out leases
become open assignments that their holders can still submit under, completed tasks' responses
become their submitted assignment's answer (made for the simulated worker's), and the app then
claims and submits on the upgraded database. Both backends."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select, text

from taskforce import migrate
from taskforce.db import Database
from taskforce.errors import LeaseLost
from taskforce.models import assignments, task_counts, tasks
from taskforce.tasks import service
from tests.integration.test_migrations_head import _differences, blank_url  # noqa: F401 - fixture

NOW = 1_900_000_000_000  # in the future of any clock the test runs under: leases at NOW+… are live
LEASE_MS = 600_000
PARAMS = {"attachment_type": "text", "attachment": "T-Rex", "categories": ["big", "small"]}


def _task(conn, task_id: str, *, status="pending", is_test=False, created_at, **extra) -> None:
    row = {"id": task_id, "customer_id": 1, "is_test": is_test, "type": "categorization",
           "status": status, "urgency": "day", "priority": 1, "instruction": "Big or small?",
           "callback_url": "http://www.example.com/cb", "params": json.dumps(PARAMS),
           "metadata": "{}", "created_at": created_at, **extra}
    if "response" in row:
        row["response"] = json.dumps(row["response"])
    cols = ", ".join(row)
    values = ", ".join(f"CAST(:{c} AS JSON)" if c in ("params", "metadata", "response")
                       and conn.dialect.name == "postgresql" else f":{c}" for c in row)
    conn.execute(text(f"INSERT INTO tasks ({cols}) VALUES ({values})"), row)


def _assignment(conn, task_id, worker_id, token, claimed_at, outcome=None, finished_at=None) -> None:
    conn.execute(text("INSERT INTO assignments (task_id, worker_id, lease_token, claimed_at, finished_at, outcome) "
                      "VALUES (:t, :w, :k, :c, :f, :o)"),
                 {"t": task_id, "w": worker_id, "k": token, "c": claimed_at, "f": finished_at, "o": outcome})


def _at_0002(url: str) -> dict[str, int]:
    """A 0002 database holding one task in each state; returns the workers' ids."""
    migrate.upgrade(url, "0002")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO customers (id, name, callback_auth_key, signing_secret, active, created_at) "
                          "VALUES (1, 'early', 'k', 'whsec_x', true, 0)"))
        workers = {}
        for name in ("ann", "bob", "cat", "dan"):
            workers[name] = conn.execute(text(
                "INSERT INTO users (email, password_hash, role, active, created_at) "
                "VALUES (:e, '-', 'worker', true, 0) RETURNING id"), {"e": f"{name}@example.test"}).scalar()
        ann, bob, cat = workers["ann"], workers["bob"], workers["cat"]
        _task(conn, "a" * 24, created_at=NOW - 9000)  # pending, never claimed
        _task(conn, "b" * 24, created_at=NOW - 8000, lease_worker_id=ann, lease_token="tok-ann",
              lease_expires_at=NOW + LEASE_MS)  # held by ann
        _assignment(conn, "b" * 24, ann, "tok-ann", NOW - 1000)
        _task(conn, "c" * 24, created_at=NOW - 7000, lease_worker_id=bob, lease_token="tok-bob",
              lease_expires_at=NOW - 5)  # bob's lease ran out
        _assignment(conn, "c" * 24, bob, "tok-bob-old", NOW - 3 * LEASE_MS, "expired", NOW - 2 * LEASE_MS)
        _assignment(conn, "c" * 24, bob, "tok-bob", NOW - LEASE_MS - 5)
        _task(conn, "d" * 24, created_at=NOW - 6000)  # skipped by cat
        _assignment(conn, "d" * 24, cat, "tok-cat", NOW - 2000, "skipped", NOW - 1500)
        conn.execute(text("INSERT INTO task_skips (task_id, worker_id, skipped_at) VALUES (:t, :w, :s)"),
                     {"t": "d" * 24, "w": cat, "s": NOW - 1500})
        _task(conn, "e" * 24, status="completed", created_at=NOW - 5000, completed_at=NOW - 100,
              completed_by=ann, response={"category": "big"})  # answered by ann
        _assignment(conn, "e" * 24, ann, "tok-ann-e", NOW - 400, "submitted", NOW - 100)
        _task(conn, "f" * 24, status="completed", is_test=True, created_at=NOW - 4000,
              completed_at=NOW - 3000, response={"category": "small"})  # the simulated worker's
        _task(conn, "9" * 24, status="canceled", created_at=NOW - 3000, canceled_at=NOW - 50)
        _assignment(conn, "9" * 24, bob, "tok-bob-9", NOW - 60, "canceled", NOW - 50)
    engine.dispose()
    return workers


#: Each partial index and a column its WHERE must name (the backends print predicates differently).
_PARTIAL = {"ix_tasks_customer_project": "project", "ix_tasks_customer_batch": "batch",
            "ix_tasks_customer_completed": "completed_at", "ix_tasks_queue": "held",
            "ix_tasks_queue_depth": "held", "ix_tasks_test_pending": "held",
            "ix_assignments_open": "outcome", "uq_assignments_answer": "outcome"}


def _indexes_and_triggers(url: str) -> tuple[dict[str, str], set[str]]:
    """Each index's definition, and the triggers on tasks (a rebuilt SQLite table loses both)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            indexes = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                             "AND sql IS NOT NULL")).all())
            triggers = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                             "AND tbl_name = 'tasks'")).scalars())
        else:
            indexes = dict(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes "
                                             "WHERE schemaname = 'public'")).all())
            triggers = set(conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                                             "AND tgrelid = 'tasks'::regclass")).scalars())
    engine.dispose()
    return indexes, triggers


def test_0002_database_upgrades_with_leases_answers_and_history(blank_url):  # noqa: F811
    workers = _at_0002(blank_url)
    ann, bob, cat, dan = (workers[n] for n in ("ann", "bob", "cat", "dan"))
    migrate.upgrade(blank_url)
    assert _differences(blank_url) == []
    indexes, triggers = _indexes_and_triggers(blank_url)
    assert triggers == {"tasks_count_insert", "tasks_count_delete", "tasks_count_update", "tasks_updated_at"}
    for name, column in _PARTIAL.items():
        assert column in indexes[name].partition(" WHERE ")[2], indexes[name]
    assert not any(name in indexes for name in ("ix_tasks_lease_worker", "ix_tasks_completed_by"))

    db = Database(blank_url)
    try:
        with db.read() as conn:
            counters = {r.id[0]: (r.answers_needed, r.answers_submitted, r.leases_open, r.lease_expires_at, r.held)
                        for r in conn.execute(select(tasks))}
            rows = conn.execute(select(assignments).order_by(assignments.c.id)).mappings().all()
            history = {(r["task_id"][0], r["lease_token"]): r for r in rows}
        assert counters == {
            "a": (1, 0, 0, None, False), "b": (1, 0, 1, NOW + LEASE_MS, False),
            "c": (1, 0, 1, NOW - 5, False), "d": (1, 0, 0, None, False), "e": (1, 1, 0, None, False),
            "f": (1, 1, 0, None, False), "9": (1, 0, 0, None, False)}
        assert (history[("b", "tok-ann")]["outcome"], history[("b", "tok-ann")]["lease_expires_at"]) == (None, NOW + LEASE_MS)
        assert (history[("c", "tok-bob")]["outcome"], history[("c", "tok-bob")]["lease_expires_at"]) == (None, NOW - 5)
        assert history[("c", "tok-bob-old")]["outcome"] == "expired"
        assert history[("d", "tok-cat")]["outcome"] == "skipped"
        assert history[("9", "tok-bob-9")]["outcome"] == "canceled"
        answered = history[("e", "tok-ann-e")]
        assert (answered["outcome"], answered["answer"], answered["finished_at"]) == (
            "submitted", {"category": "big"}, NOW - 100)
        simulated = history[("f", "m" + "f" * 24)]
        assert (simulated["worker_id"], simulated["outcome"], simulated["answer"], simulated["finished_at"]) == (
            None, "submitted", {"category": "small"}, NOW - 3000)
        assert len(rows) == 7

        # The app on the upgraded database: ann still holds her task and can submit under the
        # lease she had; bob's run-out lease is refused; the queue skips what cat skipped.
        with db.write() as conn:
            assert service.current_lease(conn, ann, now=NOW) == service.Lease("b" * 24, "tok-ann", NOW + LEASE_MS)
            assert service.current_lease(conn, bob, now=NOW) is None
        try:
            with db.write() as conn:
                service.complete(conn, "c" * 24, {"category": "big"}, worker_id=bob, lease_token="tok-bob", now=NOW)
            raise AssertionError("a run-out lease was accepted")
        except LeaseLost as exc:
            assert "ran out" in exc.message
        with db.write() as conn:
            done = service.complete(conn, "b" * 24, {"category": "small"}, worker_id=ann, lease_token="tok-ann",
                                    now=NOW + 1)
        assert (done["status"], done["response"]) == ("completed", {"category": "small"})
        claimed = []
        for worker in (cat, dan, cat):
            with db.write() as conn:
                lease = service.claim(conn, worker, lease_seconds=600, now=NOW + 2)
            claimed.append(lease and lease.task_id)
        # cat gets the oldest (a), dan the run-out one (c), and cat, holding a, asks again: a.
        assert claimed == ["a" * 24, "c" * 24, "a" * 24]
        with db.write() as conn:
            lease = service.claim(conn, bob, lease_seconds=600, now=NOW + 3)
        assert lease.task_id == "d" * 24  # cat skipped it; bob did not
        with db.write() as conn:
            service.complete(conn, lease.task_id, {"category": "big"}, worker_id=bob, lease_token=lease.token,
                             now=NOW + 4)
        with db.read() as conn:
            outcomes = [r.outcome for r in conn.execute(
                select(assignments.c.outcome).where(assignments.c.task_id == "c" * 24).order_by(assignments.c.id))]
            assert outcomes == ["expired", "expired", None]
            # The triggers still count: 3 completed live tasks (e, b, d), 1 test, 1 canceled, 2 pending.
            totals: dict = {}
            for r in conn.execute(select(task_counts.c.is_test, task_counts.c.status, task_counts.c.n)):
                totals[(r.is_test, r.status)] = totals.get((r.is_test, r.status), 0) + r.n  # shards
        assert {k: v for k, v in totals.items() if v} == {
            (False, "completed"): 3, (True, "completed"): 1, (False, "canceled"): 1, (False, "pending"): 2}
    finally:
        db.dispose()
