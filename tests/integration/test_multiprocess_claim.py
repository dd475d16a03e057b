"""Several OS processes claim and complete from one queue: every task is handed out exactly once
and nothing is lost. On PostgreSQL the claimers pass each other with FOR UPDATE SKIP LOCKED; on
SQLite BEGIN IMMEDIATE serialises them. Threads would share one interpreter lock and one pool;
separate processes are what several API hosts are."""

from __future__ import annotations

import multiprocessing
import time

from sqlalchemy import func, select

from taskforce.db import Database
from taskforce.models import assignments, deliveries, tasks

PROCESSES = 4
WORKERS_PER_PROCESS = 3
TASKS = 240


def _work(url: str, worker_ids: list[int], start_at: float, out: multiprocessing.Queue) -> None:
    """One process: its workers take turns claiming and answering until the queue is empty."""
    from taskforce.task_types import REGISTRY
    from taskforce.tasks import service

    db = Database(url, pool_size=2)
    done: list[str] = []
    active = list(worker_ids)
    time.sleep(max(0.0, start_at - time.time()))  # start together, to contend for real
    while active:
        for worker_id in list(active):
            with db.write() as conn:
                lease = service.claim(conn, worker_id, lease_seconds=600)
            if lease is None:
                active.remove(worker_id)
                continue
            with db.read() as conn:
                task = service.get(conn, lease.task_id)
            answer = REGISTRY.get(task["type"]).simulated_response(task["id"], task["params"])
            with db.write() as conn:
                service.complete(conn, lease.task_id, answer, worker_id=worker_id,
                                 lease_token=lease.token)
            done.append(lease.task_id)
    db.dispose()
    out.put(done)


def test_processes_claim_each_task_exactly_once(db, factory) -> None:
    customer = factory.customer()
    created = {factory.task(customer)["id"] for _ in range(TASKS)}
    workers = [factory.user("worker")["id"] for _ in range(PROCESSES * WORKERS_PER_PROCESS)]

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.0  # spawned interpreters take a moment to import
    procs = [
        ctx.Process(target=_work, args=(db.url, workers[i::PROCESSES], start_at, out))
        for i in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=50) for _ in procs]
    for p in procs:
        p.join(timeout=10)
        assert p.exitcode == 0

    handed_out = [task_id for done in results for task_id in done]
    assert len(handed_out) == len(set(handed_out)), "a task was completed twice"
    assert set(handed_out) == created, "a task was lost"
    assert sum(1 for done in results if done) > 1, "only one process got work: no contention tested"
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(tasks)
                            .where(tasks.c.status == "completed")).scalar_one() == TASKS
        per_task = conn.execute(select(assignments.c.task_id, func.count())
                                .group_by(assignments.c.task_id)).all()
        assert len(per_task) == TASKS and all(n == 1 for _, n in per_task)
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == TASKS
