"""Benchmark 7: what /metrics costs. A: one request's metrics (a counter and a histogram) in
prometheus-client's in-memory mode against its multiprocess mode (memory-mapped files, what
``serve --workers N`` uses), in child processes. B: one scrape at N tasks (default 1,000,000, a
tenth of them pending live, some leased, some callbacks owed) on SQLite or PostgreSQL: the
database state read through the partial indexes and task_counts, plus the merge of 4 worker
processes' files.

    .venv/bin/python bench/bench_metrics.py [--tasks 1000000] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, BenchDatabase, make_customer  # noqa: E402

_OBSERVE = """
import time
from taskforce import metrics
routes = ["/v1/task/categorize", "/v1/task/{task_id}", "/v1/tasks", "/work/next"]
n = 100_000
started = time.perf_counter()
for i in range(n):
    metrics.observe_request("POST", routes[i % 4], 200, 0.004)
print((time.perf_counter() - started) / n * 1e6)
"""


def per_request_us(multiprocess: bool) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with tempfile.TemporaryDirectory() as folder:
        if multiprocess:
            env["PROMETHEUS_MULTIPROC_DIR"] = folder
        out = subprocess.run([sys.executable, "-c", _OBSERVE], env=env, capture_output=True,
                             text=True, check=True)
    return float(out.stdout.strip())


def seed(bdb: BenchDatabase, n: int) -> None:
    from sqlalchemy import select, update

    from taskforce import accounts as users
    from taskforce import bulk_import
    from taskforce.callbacks import outbox
    from taskforce.models import deliveries, tasks
    from taskforce.tasks import service

    db = bdb.database(1)
    customers = [make_customer(db, f"c{i}") for i in range(10)]
    body = {"callback_url": "http://127.0.0.1:9/cb", "instruction": "x",
            "attachment_type": "text", "attachment": "x", "categories": ["a", "b"]}
    per = n // len(customers)
    for i, account in enumerate(customers):
        importer = bulk_import.Importer(db, customer_id=account.customer_id, is_test=i in (1, 3, 5, 7),
                                        default_type=bulk_import.type_named("categorize"),
                                        batch_size=10_000)
        importer.run((k, 0, dict(body, urgency=("immediate", "day", "week")[k % 3]))
                     for k in range(per))
    # Nine customers' tasks completed, as a long-running site has them; the tenth's pending.
    done = [c.customer_id for c in customers[:9]]
    with db.write() as conn:
        conn.execute(update(tasks).where(tasks.c.customer_id.in_(done))
                     .values(status="completed", completed_at=tasks.c.created_at + 1000,
                             response={"category": "a"}))
        owed = conn.execute(select(tasks.c.id).where(tasks.c.customer_id == done[0]).limit(500)).scalars().all()
        for task_id in owed:  # callbacks still owed, retrying
            outbox.enqueue(conn, service.get(conn, task_id), now=int(time.time() * 1000))
        conn.execute(update(deliveries).values(attempts=1))
        workers = [users.create_user(conn, f"w{w}@bench.test", "bench password", "worker")
                   for w in range(20)]
    for w in workers:
        with db.write() as conn:
            service.claim(conn, w, lease_seconds=600)
    db.dispose()


def scrape_ms(bdb: BenchDatabase, rounds: int = 20) -> tuple[float, float]:
    from taskforce import metrics

    db = bdb.database(1)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        with db.read() as conn:
            metrics.read_state(conn)
        times.append((time.perf_counter() - started) * 1000)
    db.dispose()
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    result: dict = {"in_memory_us_per_request": round(per_request_us(False), 2),
                    "multiprocess_us_per_request": round(per_request_us(True), 2)}
    bdb = BenchDatabase(args.backend)
    started = time.perf_counter()
    seed(bdb, args.tasks)
    result["seed_seconds"] = round(time.perf_counter() - started, 1)
    bdb.vacuum()
    median, worst = scrape_ms(bdb)
    result.update(backend=args.backend, tasks=args.tasks, state_scrape_ms_median=round(median, 2),
                  state_scrape_ms_max=round(worst, 2))
    bdb.drop()
    # The merge of four processes' files, as a scrape of `serve --workers 4` does it.
    merge = """
import os, time
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
r = CollectorRegistry(); multiprocess.MultiProcessCollector(r)
t = time.perf_counter()
for _ in range(20): generate_latest(r)
print((time.perf_counter() - t) / 20 * 1000)
"""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": folder}
        for _ in range(4):
            subprocess.run([sys.executable, "-c", _OBSERVE], env=env, check=True, capture_output=True)
        out = subprocess.run([sys.executable, "-c", merge], env=env, check=True,
                             capture_output=True, text=True)
    result["multiprocess_merge_ms_4_processes"] = round(float(out.stdout.strip()), 2)
    result["load_average"] = os.getloadavg()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
