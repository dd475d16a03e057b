"""Benchmark 3: queue. 32 simulated workers (4 OS processes × 8 workers, each process taking its
workers' turns one after another, as a server process serves one request at a time) claim
and submit against 20,000 pending tasks through the service layer the worker pages use
(tasks/service.claim + complete, which also writes each callback's outbox row) until the queue is
empty. Figures: completed tasks per second and doubles (must be zero: every task completed once,
one assignment each). Baseline: the same processes and threads running a bare two-statement queue
on the same table — claim with one UPDATE … WHERE id = (SELECT … LIMIT 1 [FOR UPDATE SKIP
LOCKED]), then complete with one UPDATE — no history, no outbox, no answer validation.

``--overlap 3``: the same run with every task needing 3 answers (3 distinct workers each,
combined when the third is in), reported next to overlap 1 (no baseline)."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchDatabase, make_customer  # noqa: E402
from bench.seed import fill_tasks  # noqa: E402

TASKS = 20_000
PROCESSES = 4
WORKERS_PER_PROCESS = 8


def _taskforce_worker(db, worker_id: int, done: list[str]) -> bool:
    """One turn: claim, read the task, answer it. False when the queue is empty."""
    from taskforce.task_types import REGISTRY
    from taskforce.tasks import service

    with db.write() as conn:
        lease = service.claim(conn, worker_id, lease_seconds=600)
    if lease is None:
        return False
    with db.read() as conn:
        task = service.get(conn, lease.task_id)
    answer = REGISTRY.get(task["type"]).simulated_response(task["id"], task["params"])
    with db.write() as conn:
        service.complete(conn, lease.task_id, answer, worker_id=worker_id, lease_token=lease.token)
    done.append(lease.task_id)
    return True


def _baseline_worker(db, worker_id: int, done: list[str]) -> bool:
    from sqlalchemy import text

    lock = " FOR UPDATE SKIP LOCKED" if not db.is_sqlite else ""
    # The lease lives on the task row here (the same columns' worth of writes as the bare queue
    # had before leases moved into assignments): open count, expiry, and the expiry as fence.
    # "held = :f" as the queue's own claim has it: without it the partial queue index no longer
    # applies (its predicate has held = false since issue 9) and SQLite scans and sorts.
    claim = text(
        "UPDATE tasks SET leases_open = 1, lease_expires_at = :e WHERE id = ("
        "SELECT id FROM tasks WHERE status = 'pending' AND is_test = :f AND held = :f AND leases_open = 0 "
        f"ORDER BY priority, created_at, id LIMIT 1{lock}) RETURNING id")
    finish = text("UPDATE tasks SET status = 'completed', response = :r, completed_at = :now, "
                  "leases_open = 0 WHERE id = :id AND lease_expires_at = :e")
    now = int(time.time() * 1000)
    expires = now + 600_000 + worker_id  # distinct per worker: the fence
    with db.write() as conn:
        task_id = conn.execute(claim, {"e": expires, "f": False}).scalar()
    if task_id is None:
        return False
    with db.write() as conn:
        conn.execute(finish, {"r": '{"category": "public"}', "now": now, "id": task_id, "e": expires})
    done.append(task_id)
    return True


def _process(kind: str, url: str, worker_ids: list[int], start_at: float, out) -> None:
    from taskforce.db import Database

    db = Database(url, pool_size=2)
    turn = _taskforce_worker if kind == "taskforce" else _baseline_worker
    done: list[str] = []
    active = list(worker_ids)
    time.sleep(max(0.0, start_at - time.time()))
    while active:
        for worker_id in list(active):
            if not turn(db, worker_id, done):
                active.remove(worker_id)
    out.put((done, time.time()))
    db.dispose()


def measure(kind: str, backend: str, tasks: int, overlap: int = 1) -> dict:
    from sqlalchemy import func, insert, select, update

    from taskforce.models import assignments, deliveries, users
    from taskforce.models import tasks as tasks_table

    bdb = BenchDatabase(backend)
    db = bdb.database(1)
    account = make_customer(db, "queue")
    fill_tasks(db, total=tasks, customer_ids=[account.customer_id], status="pending")
    if overlap > 1:
        with db.write() as conn:
            conn.execute(update(tasks_table).values(answers_needed=overlap))
    with db.write() as conn:
        worker_ids = [conn.execute(insert(users).values(
            email=f"w{i}@bench.test", password_hash="-", role="worker", active=True,
            created_at=0)).inserted_primary_key[0] for i in range(PROCESSES * WORKERS_PER_PROCESS)]
    bdb.vacuum()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 2.5
    procs = [ctx.Process(target=_process, args=(kind, bdb.url, worker_ids[i::PROCESSES], start_at, out))
             for i in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    elapsed = max(end for _, end in results) - start_at
    handed = [t for done, _ in results for t in done]
    with db.read() as conn:
        completed = conn.execute(select(func.count()).select_from(tasks_table)
                                 .where(tasks_table.c.status == "completed")).scalar_one()
        # Doubles: a task handed out more often than it needs answers, or one worker answering twice.
        multi = conn.execute(select(func.count()).select_from(
            select(assignments.c.task_id).group_by(assignments.c.task_id)
            .having(func.count() > overlap).subquery())).scalar_one()
        multi += conn.execute(select(func.count()).select_from(
            select(assignments.c.task_id).where(assignments.c.worker_id.is_not(None))
            .group_by(assignments.c.task_id, assignments.c.worker_id)
            .having(func.count() > 1).subquery())).scalar_one()
        outbox = conn.execute(select(func.count()).select_from(deliveries)).scalar_one()
    db.dispose()
    bdb.drop()
    doubles = (len(handed) - len(set(handed)) if overlap == 1 else 0) + multi
    return {"tasks_per_s": completed / elapsed, "seconds": elapsed, "completed": completed,
            "handed_out": len(handed), "doubles": doubles, "outbox_rows": outbox}


def run_overlap(backends: list[str], tasks: int, overlap: int) -> list[dict]:
    results = []
    for backend in backends:
        one = measure("taskforce", backend, tasks)
        many = measure("taskforce", backend, tasks, overlap)
        ok = many["doubles"] == 0 and many["completed"] == tasks and many["outbox_rows"] == tasks
        line = {"bench": "queue_overlap", "backend": backend, "workers": PROCESSES * WORKERS_PER_PROCESS,
                "tasks": tasks, "overlap": overlap, "overlap_1_tasks_per_s": round(one["tasks_per_s"]),
                f"overlap_{overlap}_tasks_per_s": round(many["tasks_per_s"]),
                f"overlap_{overlap}_answers_per_s": round(many["tasks_per_s"] * overlap),
                "completed": many["completed"], "doubles": many["doubles"], "ok": ok}
        print(f"queue {backend:8}: {tasks:,} tasks | overlap 1 {line['overlap_1_tasks_per_s']} tasks/s | "
              f"overlap {overlap} {line[f'overlap_{overlap}_tasks_per_s']} tasks/s "
              f"({line[f'overlap_{overlap}_answers_per_s']} answers/s), {many['doubles']} doubles, "
              f"{many['outbox_rows']:,} callbacks owed {'OK' if ok else 'MISS'}", flush=True)
        results.append(line)
    return results


def run(backends: list[str], tasks: int = TASKS) -> list[dict]:
    results = []
    for backend in backends:
        t = measure("taskforce", backend, tasks)
        b = measure("baseline", backend, tasks)
        ok = t["doubles"] == 0 and t["completed"] == tasks and t["outbox_rows"] == tasks
        line = {"bench": "queue", "backend": backend, "workers": PROCESSES * WORKERS_PER_PROCESS, "tasks": tasks,
                "taskforce_tasks_per_s": round(t["tasks_per_s"]), "baseline_tasks_per_s": round(b["tasks_per_s"]),
                "ratio": round(t["tasks_per_s"] / b["tasks_per_s"], 2), "completed": t["completed"],
                "doubles": t["doubles"], "baseline_doubles": b["doubles"], "ok": ok}
        print(f"queue {backend:8}: {PROCESSES * WORKERS_PER_PROCESS} workers, {tasks:,} tasks | taskforce "
              f"{line['taskforce_tasks_per_s']} tasks/s, {t['completed']:,} completed, {t['doubles']} doubles, "
              f"{t['outbox_rows']:,} callbacks owed | baseline {line['baseline_tasks_per_s']} tasks/s "
              f"({b['doubles']} doubles) | ratio {line['ratio']} {'OK' if ok else 'MISS'}", flush=True)
        results.append(line)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--overlap", type=int, default=1, help="also run at this overlap, next to 1")
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgres"]
    if args.overlap > 1:
        print(json.dumps(run_overlap(backends, args.tasks, args.overlap), indent=1))
    else:
        print(json.dumps(run(backends, args.tasks), indent=1))
