"""Overlap under concurrency (issue 10): 16 claimers × 2,000 tasks at overlap 3, on SQLite and on
PostgreSQL: every task gets exactly three distinct workers' answers, nobody answers one task
twice, and each task owes its callback once."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import exists, func, select

from taskforce.db import Database
from taskforce.models import assignments, deliveries, tasks
from taskforce.task_types import REGISTRY
from taskforce.tasks import service
from tests.factories import VALID_PARAMS

CLAIMERS = 16
TASKS = 2_000
OVERLAP = 3

pytestmark = pytest.mark.slow


def test_every_task_gets_three_distinct_workers_and_one_callback(database_url, factory):
    customer = factory.customer()
    workers = [factory.user("worker", email=f"overlap{i}@example.test")["id"] for i in range(CLAIMERS)]
    task_type = REGISTRY.get("categorization")
    params = task_type.parse({**VALID_PARAMS["categorization"], "overlap": OVERLAP})
    with factory.db.write() as conn:
        made = {service.create(conn, customer_id=customer.id, is_test=False, task_type=task_type,
                               params=params, now=1_800_000_000_000 + i)["id"] for i in range(TASKS)}

    db = Database(database_url, pool_size=CLAIMERS)
    errors: list[BaseException] = []
    start = threading.Barrier(CLAIMERS)

    def claimer(slot: int) -> None:
        try:
            start.wait()
            while True:
                with db.write() as conn:
                    lease = service.claim(conn, workers[slot], lease_seconds=600)
                if lease is None:
                    # On PostgreSQL a claim skips rows other claimers hold locked at that moment,
                    # so "nothing for you now" is not "nothing left": stop only when no pending
                    # task remains that this worker has not answered.
                    with db.read() as conn:
                        left = conn.execute(select(func.count()).select_from(tasks).where(
                            tasks.c.status == "pending",
                            ~exists().where(assignments.c.task_id == tasks.c.id,
                                            assignments.c.worker_id == workers[slot],
                                            assignments.c.outcome == "submitted"))).scalar()
                    if not left:
                        return
                    time.sleep(0.01)
                    continue
                with db.write() as conn:
                    service.complete(conn, lease.task_id, {"category": "public"},
                                     worker_id=workers[slot], lease_token=lease.token)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(CLAIMERS)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.monotonic() - began
    db.dispose()
    assert not errors, errors[:3]
    assert not any(t.is_alive() for t in threads)

    with factory.db.read() as conn:
        submitted = conn.execute(select(assignments.c.task_id, assignments.c.worker_id)
                                 .where(assignments.c.outcome == "submitted")).all()
        done = conn.execute(select(func.count()).select_from(tasks).where(
            tasks.c.status == "completed", tasks.c.answers_submitted == OVERLAP)).scalar()
        owed = Counter(conn.execute(select(deliveries.c.task_id)).scalars().all())
    per_task = Counter(task_id for task_id, _ in submitted)
    pairs = Counter(submitted)
    assert set(per_task) == made and set(per_task.values()) == {OVERLAP}
    assert max(pairs.values()) == 1  # nobody answered one task twice
    assert done == TASKS
    assert set(owed) == made and set(owed.values()) == {1}
    print(f"\n{TASKS} tasks × overlap {OVERLAP} by {CLAIMERS} claimers in {elapsed:.1f} s "
          f"({TASKS / elapsed:.0f} tasks/s)")
