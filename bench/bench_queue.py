"""Benchmark 3: queue. 32 simulated workers (4 OS processes × 8 workers, each process taking its
workers' turns one after another, as a server process serves one request at a time) claim
and submit against 20,000 pending tasks through the service layer the worker pages use
(tasks/service.claim + complete, which also writes each callback's outbox row) until the queue is
empty. Figures: completed tasks per second and doubles (must be zero: every task completed once,
one assignment each). Baseline: the same processes and threads running a bare two-statement queue
on the same table — claim with one UPDATE … WHERE id = (SELECT … LIMIT 1 [FOR UPDATE SKIP
LOCKED]), then complete with one UPDATE — no history, no outbox, no answer validation.

``--overlap 3``: the same run with every task needing 3 answers (3 distinct workers each,
combined when the third is in), reported next to overlap 1 (no baseline). ``--profile`` (with
``--overlap``) adds where the time went: per task, each transaction and the statements taking
the most time, and on PostgreSQL what the backends waited for and which indexes and table scans
read the most entries (bench/README.md, the overlap follow-up)."""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchDatabase, make_customer  # noqa: E402
from bench.seed import fill_tasks  # noqa: E402

TASKS = 20_000
PROCESSES = 4
WORKERS_PER_PROCESS = 8


class Profile:
    """``--profile``: where one process's time goes. Each transaction of a turn (claim, read,
    complete) is timed whole (BEGIN … COMMIT) and each statement in it by the driver's execute
    (so a statement waiting for a row lock counts its wait); the rest of a phase is COMMIT and
    Python. Statements are keyed by their first words."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.phase = "-"
        self.phases: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])  # n, s, stmts, stmt s
        self.statements: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # n, s, max
        self._began = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self._began = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        took = time.perf_counter() - self._began
        key = (self.phase, " ".join(statement.split())[:110])
        entry = self.statements[key]
        entry[0] += 1
        entry[1] += took
        entry[2] = max(entry[2], took)
        phase = self.phases[self.phase]
        phase[2] += 1
        phase[3] += took

    @contextlib.contextmanager
    def timed(self, phase: str):
        self.phase = phase
        began = time.perf_counter()
        try:
            yield
        finally:
            entry = self.phases[phase]
            entry[0] += 1
            entry[1] += time.perf_counter() - began
            self.phase = "-"

    def result(self) -> dict:
        return {"phases": dict(self.phases), "statements": {"\x00".join(k): v for k, v in self.statements.items()}}


def report_profile(profiles: list[dict], completed: int, label: str) -> dict:
    """Sum the processes' profiles; print per-task figures (a task = ``overlap`` turns)."""
    phases: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])
    statements: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for prof in profiles:
        for name, v in prof["phases"].items():
            for i in range(4):
                phases[name][i] += v[i]
        for key, v in prof["statements"].items():
            statements[key][0] += v[0]
            statements[key][1] += v[1]
            statements[key][2] = max(statements[key][2], v[2])
    print(f"-- profile {label}: per completed task, summed over the processes", flush=True)
    for name, (n, s, stmts, stmt_s) in sorted(phases.items()):
        print(f"   {name:9} {n / completed:5.2f} transactions, {s * 1000 / completed:7.2f} ms "
              f"({s * 1000 / max(n, 1):6.2f} ms each), {stmts / completed:5.2f} statements taking "
              f"{stmt_s * 1000 / completed:7.2f} ms", flush=True)
    top = sorted(statements.items(), key=lambda kv: -kv[1][1])[:14]
    for key, (n, s, most) in top:
        phase, sql = key.split("\x00")
        print(f"   {s * 1000 / completed:7.2f} ms/task {n / completed:5.2f}x mean {s * 1000 / n:6.2f} "
              f"max {most * 1000:7.1f} ms [{phase}] {sql}", flush=True)
    return {"phases": {k: list(v) for k, v in phases.items()},
            "statements": {k: list(v) for k, v in top}}


def _taskforce_worker(db, worker_id: int, done: list[str], prof: Profile | None = None) -> bool:
    """One turn: claim, read the task, answer it. False when the queue is empty."""
    from taskforce.task_types import REGISTRY
    from taskforce.tasks import service

    timed = prof.timed if prof is not None else (lambda _phase: contextlib.nullcontext())
    with timed("claim"), db.write() as conn:
        lease = service.claim(conn, worker_id, lease_seconds=600)
    if lease is None:
        return False
    with timed("read"), db.read() as conn:
        task = service.get(conn, lease.task_id)
    answer = REGISTRY.get(task["type"]).simulated_response(task["id"], task["params"])
    with timed("complete"), db.write() as conn:
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


def _process(kind: str, url: str, worker_ids: list[int], start_at: float, out, profile: bool = False) -> None:
    from taskforce.db import Database

    db = Database(url, pool_size=2)
    prof = Profile(db.engine) if profile and kind == "taskforce" else None
    done: list[str] = []
    active = list(worker_ids)
    time.sleep(max(0.0, start_at - time.time()))
    while active:
        for worker_id in list(active):
            more = (_taskforce_worker(db, worker_id, done, prof) if kind == "taskforce"
                    else _baseline_worker(db, worker_id, done))
            if not more:
                active.remove(worker_id)
    out.put((done, time.time(), prof.result() if prof is not None else None))
    db.dispose()


class PgWaits:
    """``--profile`` on PostgreSQL: samples what the benchmark database's backends wait for
    (pg_stat_activity, every 20 ms) and the tasks table's update counters."""

    def __init__(self, url: str) -> None:
        import threading

        from sqlalchemy import create_engine

        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.samples: dict[str, int] = defaultdict(int)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.before = self._counters()
        self.thread.start()

    def _counters(self) -> dict:
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT n_tup_upd, n_tup_hot_upd, n_dead_tup, idx_scan, seq_scan FROM pg_stat_user_tables "
                "WHERE relname = 'tasks'").mappings().first()
            db = conn.exec_driver_sql(
                "SELECT xact_commit, xact_rollback, deadlocks, blks_hit, blks_read, tup_fetched, tup_returned "
                "FROM pg_stat_database WHERE datname = current_database()").mappings().first()
            # Which index (or table scan) reads the most entries: the scan that grows.
            reads = conn.exec_driver_sql(
                "SELECT indexrelname, idx_tup_read FROM pg_stat_user_indexes UNION ALL "
                "SELECT relname || ' (seq)', seq_tup_read FROM pg_stat_user_tables").all()
        return {**dict(row), **dict(db), **{f"read {name}": n for name, n in reads}}

    def _sample(self) -> None:
        sql = ("SELECT coalesce(wait_event_type || ':' || wait_event, state) FROM pg_stat_activity "
               "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'")
        with self.engine.connect() as conn:
            while not self.stop.wait(0.02):
                for (what,) in conn.exec_driver_sql(sql):
                    self.samples[what] += 1
                self.samples["(samples)"] += 1

    def finish(self, completed: int) -> dict:
        import time as _time

        self.stop.set()
        self.thread.join()
        _time.sleep(0.6)  # the statistics collector's flush
        after = self._counters()
        delta = {k: after[k] - self.before[k] for k in after}
        self.engine.dispose()
        n = self.samples.pop("(samples)", 1)
        print("   pg backends not idle, mean per sample: " + ", ".join(
            f"{k} {v / n:.2f}" for k, v in sorted(self.samples.items(), key=lambda kv: -kv[1])[:8]), flush=True)
        print("   per task: " + ", ".join(f"{k} {v / completed:.1f}" for k, v in delta.items()
                                       if not k.startswith("read ")), flush=True)
        reads = sorted(((k[5:], v) for k, v in delta.items() if k.startswith("read ") and v), key=lambda kv: -kv[1])
        print("   entries read per task: " + ", ".join(f"{k} {v / completed:.1f}" for k, v in reads[:8]), flush=True)
        return {"waits_per_sample": {k: v / n for k, v in self.samples.items()}, "counters": delta}


def measure(kind: str, backend: str, tasks: int, overlap: int = 1, profile: bool = False) -> dict:
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
    procs = [ctx.Process(target=_process, args=(kind, bdb.url, worker_ids[i::PROCESSES], start_at, out, profile))
             for i in range(PROCESSES)]
    for p in procs:
        p.start()
    waits = PgWaits(bdb.url) if profile and backend == "postgres" else None
    results = [out.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join()
    elapsed = max(end for _, end, _ in results) - start_at
    handed = [t for done, _, _ in results for t in done]
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
    profiled = {}
    if profile and kind == "taskforce":
        profiled = report_profile([p for _, _, p in results], completed,
                                  f"{backend} overlap {overlap}, {completed / elapsed:.0f} tasks/s")
        if waits is not None:
            profiled["pg"] = waits.finish(completed)
    bdb.drop()
    doubles = (len(handed) - len(set(handed)) if overlap == 1 else 0) + multi
    return {"tasks_per_s": completed / elapsed, "seconds": elapsed, "completed": completed,
            "handed_out": len(handed), "doubles": doubles, "outbox_rows": outbox, "profile": profiled}


def run_overlap(backends: list[str], tasks: int, overlap: int, profile: bool = False) -> list[dict]:
    results = []
    for backend in backends:
        one = measure("taskforce", backend, tasks, profile=profile)
        many = measure("taskforce", backend, tasks, overlap, profile=profile)
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
    parser.add_argument("--profile", action="store_true",
                        help="with --overlap: time each transaction and statement (and PostgreSQL's waits)")
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgres"]
    if args.overlap > 1:
        print(json.dumps(run_overlap(backends, args.tasks, args.overlap, args.profile), indent=1))
    else:
        print(json.dumps(run(backends, args.tasks), indent=1))
