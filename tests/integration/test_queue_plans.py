"""The queue's hot queries can use their partial indexes, on both backends: each repeats its
index's predicate (models.QUEUE, TEST_PENDING, OPEN_ASSIGNMENT) closely enough for the planner."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from taskforce.models import tasks
from taskforce.tasks import service, simulator
from taskforce.workforce_stats import _live_pending

NOW = 1_800_000_000_000


def _plan(conn, statement, params: dict) -> str:
    compiled = statement.compile(dialect=conn.dialect)
    values = {**{k: v for k, v in compiled.params.items() if v is not None}, **params}
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}",
                                    tuple(values[name] for name in compiled.positiontup)).all()
        return "\n".join(str(r[-1]) for r in rows)
    # A near-empty table is cheapest to scan whole: forbid that, so the plan shows whether the
    # index can serve the query at all.
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}", values).all())


def _sqlite_text_plan(conn, sql: str, params: dict) -> str:
    names = re.findall(r":(\w+)", sql)
    rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + re.sub(r":\w+", "?", sql),
                                tuple(params[n] for n in names)).all()
    return "\n".join(str(r[-1]) for r in rows)


def test_claim_simulator_depth_and_current_lease_use_their_indexes(db, factory):
    customer = factory.customer()
    for n in range(30):
        factory.task(customer, is_test=bool(n % 2), now=NOW - n)
    worker = factory.user("worker")
    with db.write() as conn:
        service.claim(conn, worker["id"], lease_seconds=600, now=NOW)
    with db.write() as conn:
        params = {"now": NOW, "worker": worker["id"]}
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
            plan = _plan(conn, service._PG_NEXT_TASK, params)
        else:  # it names its index, and SQLite refuses to plan it if the index cannot serve it
            plan = _sqlite_text_plan(conn, service._SQLITE_NEXT_TASK.text, params)
        assert "ix_tasks_queue" in plan, plan
        due = (select(tasks.c.id).where(simulator._pending_test(conn), tasks.c.created_at <= NOW)
               .order_by(tasks.c.created_at).limit(200))
        plan = _plan(conn, due, {})
        assert "ix_tasks_test_pending" in plan, plan
        depth = (select(tasks.c.priority, tasks.c.type, func.count()).where(_live_pending(conn))
                 .group_by(tasks.c.priority, tasks.c.type))
        plan = _plan(conn, depth, {})
        assert "ix_tasks_queue" in plan, plan  # ix_tasks_queue_depth or ix_tasks_queue: both partial
        plan = _plan(conn, service._CURRENT_LEASE, {"b_worker": worker["id"], "b_now": NOW})
        assert "ix_assignments_open" in plan, plan


def test_claim_checks_a_workers_answer_per_task_not_over_their_history(db, factory):
    """At overlap > 1 the claim skips tasks the worker already answered. PostgreSQL may run a
    NOT EXISTS as a hashed subplan that first reads every answer the worker ever gave (26 ms a
    claim at 3,000 answers, growing without bound); the check must stay a look-up of (task,
    worker) in uq_assignments_answer for each candidate."""
    customer = factory.customer()
    for n in range(60):
        factory.task(customer, overlap=3, now=NOW - 100 + n)
    worker = factory.user("worker")
    for _ in range(40):  # a history of answers to tasks that still wait for other workers
        with db.write() as conn:
            lease = service.claim(conn, worker["id"], lease_seconds=600, now=NOW)
            service.complete(conn, lease.task_id, {"category": "public"}, worker_id=worker["id"],
                             lease_token=lease.token, now=NOW)
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")
            plan = _plan(conn, service._PG_NEXT_TASK, {"now": NOW, "worker": worker["id"]})
            assert "hashed" not in plan and "uq_assignments_answer" in plan, plan
        else:
            plan = _sqlite_text_plan(conn, service._SQLITE_NEXT_TASK.text, {"now": NOW, "worker": worker["id"]})
            assert "uq_assignments_answer" in plan, plan
        # And the claim still passes over what the worker answered: the oldest 40 are theirs.
        lease = service.claim(conn, worker["id"], lease_seconds=600, now=NOW)
    with db.read() as conn:
        answered = {t for (t,) in conn.exec_driver_sql(
            "SELECT task_id FROM assignments WHERE outcome = 'submitted'")}
    assert lease is not None and lease.task_id not in answered and len(answered) == 40
