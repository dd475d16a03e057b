"""The concurrency proof: 16 claimers × 2,000 tasks from one shared pool hand out every task
exactly once (zero doubles, zero lost), on SQLite and on PostgreSQL.

Each claimer is a thread with its own worker account and its own connections, doing what the web
app does per request: claim in one write transaction, answer in another. Threads in one process
share the interpreter lock but not the database locks, which is what is under test here (the
multi-process variant lives in test_multiprocess_claim.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from taskforce.db import Database
from taskforce.models import assignments, deliveries, tasks
from taskforce.task_types import REGISTRY
from taskforce.tasks import service
from tests.factories import VALID_PARAMS

CLAIMERS = 16
TASKS = 2_000

pytestmark = pytest.mark.slow


def test_every_task_is_handed_out_exactly_once(database_url, factory):
    customer = factory.customer()
    workers = [factory.user("worker", email=f"claimer{i}@example.test")["id"] for i in range(CLAIMERS)]
    task_type = REGISTRY.get("categorization")
    params = task_type.parse(VALID_PARAMS["categorization"])
    with factory.db.write() as conn:
        made = {service.create(conn, customer_id=customer.id, is_test=False, task_type=task_type,
                               params=params, now=1_800_000_000_000 + i)["id"] for i in range(TASKS)}

    db = Database(database_url, pool_size=CLAIMERS)
    handed: list[list[str]] = [[] for _ in range(CLAIMERS)]
    errors: list[BaseException] = []
    start = threading.Barrier(CLAIMERS)

    def claimer(slot: int) -> None:
        try:
            start.wait()
            while True:
                with db.write() as conn:
                    lease = service.claim(conn, workers[slot], lease_seconds=600)
                if lease is None:
                    return
                handed[slot].append(lease.task_id)
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
        t.join(timeout=120)
    elapsed = time.monotonic() - began
    db.dispose()
    assert not errors, errors[:3]
    assert not any(t.is_alive() for t in threads)

    counts = Counter(task_id for mine in handed for task_id in mine)
    doubles = [task_id for task_id, n in counts.items() if n > 1]
    lost = made - set(counts)
    assert doubles == [] and lost == set()
    assert sum(counts.values()) == TASKS
    # The load was shared, not served by one lucky thread.
    assert sum(1 for mine in handed if mine) >= CLAIMERS // 2
    with factory.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(tasks)
                            .where(tasks.c.status == "completed")).scalar() == TASKS
        assert conn.execute(select(func.count()).select_from(assignments)
                            .where(assignments.c.outcome == "submitted")).scalar() == TASKS
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar() == TASKS
    print(f"\n{TASKS} tasks, {CLAIMERS} claimers on {factory.db.dialect}: {elapsed:.1f} s "
          f"({TASKS / elapsed:.0f} claim+complete/s); per claimer {sorted(len(h) for h in handed)}")
