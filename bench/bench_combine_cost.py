"""What combining adds to completing a task, in the completing transaction (issue 10).

    .venv/bin/python bench/bench_combine_cost.py [--backend sqlite] [--tasks 300]

One customer whose stored SkillModel holds 10,000 workers' history (skill_models, as the
re-fit writes it). For each of N tasks at overlap 5, four workers answer (not timed), then the
fifth worker's complete — which reads the model (cached per process behind a version check),
runs the categorization combine hook with Dawid-Skene, the quality object and next_step, and
completes the task — is timed as a whole write transaction (BEGIN … COMMIT). Against it: the
same transaction completing N one-answer tasks, interleaved with them (one-answer task i, then
overlap-5 task i) so that the machine's load falls on both alike. The model is parsed once before
timing, as a server process's ``store.warm`` does at start-up; that cold load is reported apart.
Reports p50/p99 of both whole transactions side by side, the difference, the statements each
executes, and the combining steps alone. Writes bench/results/combine_cost.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BenchDatabase, make_customer  # noqa: E402

WORKERS_WITH_HISTORY = 10_000
OVERLAP = 5


def _model(worker_ids: list[int]):
    from taskforce.quality.skills import SkillModel, WorkerSkill

    rng = random.Random(7)
    model = SkillModel()
    by_worker = model.workers.setdefault("categorization", {})
    for wid in range(1, WORKERS_WITH_HISTORY + 1 - len(worker_ids)):
        acc = rng.uniform(0.55, 0.95)
        by_worker[1_000_000 + wid] = WorkerSkill(answers=50, correct=50 * acc, confusion={
            "public": {"public": 25 * acc, "private": 25 * (1 - acc)},
            "private": {"private": 25 * acc, "public": 25 * (1 - acc)}})
    for wid in worker_ids:
        by_worker[wid] = WorkerSkill(answers=80, correct=70, confusion={
            "public": {"public": 35.0, "private": 5.0}, "private": {"private": 35.0, "public": 5.0}})
    model.class_counts["categorization"] = {"public": 500.0, "private": 500.0}
    return model


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def lease_task(conn) -> str:
    """The most recently completed task (the last overlap-5 one)."""
    from sqlalchemy import select

    from taskforce.models import tasks

    return conn.execute(select(tasks.c.id).where(tasks.c.answers_needed == OVERLAP)
                        .order_by(tasks.c.completed_at.desc()).limit(1)).scalar()


def measure(backend: str, n: int) -> dict:
    from sqlalchemy import insert

    from taskforce.models import users
    from taskforce.quality import store
    from taskforce.task_types import REGISTRY
    from taskforce.tasks import service
    from tests.factories import VALID_PARAMS

    bdb = BenchDatabase(backend)
    db = bdb.database(2)
    account = make_customer(db, "combine")
    with db.write() as conn:
        workers = [conn.execute(insert(users).values(
            email=f"c{i}@bench.test", password_hash="-", role="worker", active=True,
            created_at=0)).inserted_primary_key[0] for i in range(OVERLAP)]
        store.save(conn, account.customer_id, False, _model(workers), now=0)
    task_type = REGISTRY.get("categorization")
    # Statements per completing transaction, counted by the driver's execute (SQLite's BEGIN
    # IMMEDIATE is one; PostgreSQL's BEGIN and both COMMITs are not).
    from sqlalchemy import event

    executed = [0]
    event.listen(db.engine, "after_cursor_execute", lambda *a: executed.__setitem__(0, executed[0] + 1))

    def answer(worker: int, timed: list[float] | None, category: str, counts: list[int] | None = None) -> None:
        with db.write() as conn:
            lease = service.claim(conn, worker, lease_seconds=600)
        before = executed[0]
        began = time.perf_counter()
        with db.write() as conn:
            service.complete(conn, lease.task_id, {"category": category}, worker_id=worker,
                             lease_token=lease.token)
        if timed is not None:
            timed.append((time.perf_counter() - began) * 1000)
        if counts is not None:
            counts.append(executed[0] - before)

    def timed_answer(worker: int, timed: list[float], counts: list[int], category: str) -> None:
        answer(worker, timed, category, counts)

    # The process's one cold load of the stored model (parse 10,000 workers' JSON), timed alone:
    # what the first completing transaction of a fresh process would add unless warmed.
    began = time.perf_counter()
    with db.read() as conn:
        store.load(conn, account.customer_id, False)
    cold_load_ms = (time.perf_counter() - began) * 1000
    # Interleaved, so the machine's load hits both sides alike: one-answer task i, then overlap-5
    # task i (workers 0-3 answer it untimed, worker 4's completion is timed). Each task i is
    # created just before its overlap-5 partner, so the claims take them in that order.
    single: list[float] = []
    combined: list[float] = []
    single_statements: list[int] = []
    combined_statements: list[int] = []
    one_params = task_type.parse(VALID_PARAMS["categorization"])
    five_params = task_type.parse({**VALID_PARAMS["categorization"], "overlap": OVERLAP})
    with db.write() as conn:
        for _ in range(n):
            for params in (one_params, five_params):
                service.create(conn, customer_id=account.customer_id, is_test=False, task_type=task_type,
                               params=params)
                time.sleep(0.002)  # distinct created_at, so the claim order is the creation order
    for _ in range(n):
        timed_answer(workers[0], single, single_statements, "public")
        for i, worker in enumerate(workers[:-1]):
            answer(worker, None, "public" if i != 1 else "private")
        timed_answer(workers[-1], combined, combined_statements, "public")
    # The combining steps alone, inside a write transaction on the last task: read its 5 answers,
    # the model (version check), combine, quality object, next_step — what complete() adds.
    from taskforce.quality.combiners import quality_object
    from taskforce.quality.overlap import next_step

    steps: list[float] = []
    with db.read() as conn:
        last = lease_task(conn)
    params = task_type.parse(VALID_PARAMS["categorization"]).task_params()
    for _ in range(10 * n):
        with db.write() as conn:
            began = time.perf_counter()
            given = service.answers(conn, last)
            model = store.load(conn, account.customer_id, False)
            result = task_type.combine(params, given, model)
            quality_object(result, given)
            next_step(len(given), result, overlap=len(given), max_overlap=len(given), min_confidence=0.9)
            steps.append((time.perf_counter() - began) * 1000)
    assert result.method == "dawid_skene" and len(given) == OVERLAP
    db.dispose()
    bdb.drop()
    return {"combine_steps_p50_ms": round(_p(steps, 0.5), 3), "combine_steps_p99_ms": round(_p(steps, 0.99), 3),
            "bench": "combine_cost", "backend": backend, "tasks": n, "overlap": OVERLAP,
            "workers_with_history": WORKERS_WITH_HISTORY,
            "one_answer_p50_ms": round(_p(single, 0.5), 2), "one_answer_p99_ms": round(_p(single, 0.99), 2),
            "combined_p50_ms": round(_p(combined, 0.5), 2), "combined_p99_ms": round(_p(combined, 0.99), 2),
            "added_p50_ms": round(_p(combined, 0.5) - _p(single, 0.5), 2),
            "added_p99_ms": round(_p(combined, 0.99) - _p(single, 0.99), 2),
            "cold_model_load_ms": round(cold_load_ms, 1),
            "one_answer_statements": _p(single_statements, 0.5),
            "combined_statements": _p(combined_statements, 0.5)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--tasks", type=int, default=300)
    args = parser.parse_args()
    results = [measure(b, args.tasks) for b in args.backend or ["sqlite", "postgres"]]
    for r in results:
        print(f"combine cost {r['backend']:8}: one answer p50 {r['one_answer_p50_ms']} / p99 {r['one_answer_p99_ms']} ms"
              f" | overlap {OVERLAP} last answer p50 {r['combined_p50_ms']} / p99 {r['combined_p99_ms']} ms"
              f" | added p99 {r['added_p99_ms']} ms | combining steps alone p50 {r['combine_steps_p50_ms']}"
              f" / p99 {r['combine_steps_p99_ms']} ms | statements executed per completing transaction"
              f" {r['one_answer_statements']} / {r['combined_statements']}"
              f" | cold model load {r['cold_model_load_ms']} ms",
              flush=True)
    out = Path(__file__).resolve().parent / "results" / "combine_cost.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
