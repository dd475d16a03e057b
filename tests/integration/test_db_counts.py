"""task_counts, kept by triggers, always equals COUNT(*) over tasks — whatever code path changes a
task — and the API's ``total`` comes from it."""

from __future__ import annotations

import itertools

from sqlalchemy import delete, func, select, update

from taskforce.clock import now_ms
from taskforce.models import task_counts, tasks
from taskforce.tasks import queries, service
from taskforce.tasks.queries import TaskFilter


def _check_every_filter(db, customer_ids) -> None:
    with db.read() as conn:
        for cid, is_test, status, type_ in itertools.product(
                customer_ids, (None, True, False), (None, "pending", "completed", "canceled"),
                (None, "categorization", "transcription")):
            f = TaskFilter(customer_id=cid, is_test=is_test, status=status, type=type_)
            counted = conn.execute(select(func.count()).select_from(tasks)
                                   .where(*queries._conditions(f))).scalar_one()
            assert queries.count(conn, f) == counted, f


def test_counts_follow_creates_cancels_completions_and_raw_sql(db, factory) -> None:
    a, b = factory.customer(), factory.customer()
    worker = factory.user("worker")
    # Distinct creation times, so the claim below takes made[1], the oldest pending task, never
    # made[4] (deleted by raw SQL later, which its assignment would then refuse).
    t0 = now_ms() - 60_000
    made = [factory.task(a, now=t0 + i) for i in range(5)]
    made += [factory.task(a, "transcription", now=t0 + 5 + i) for i in range(2)]
    made += [factory.task(a, is_test=True, now=t0 + 7), factory.task(b, now=t0 + 8)]
    _check_every_filter(db, [a.id, b.id])

    with db.write() as conn:
        service.cancel(conn, made[0]["id"], customer_id=a.id, is_test=False)
        lease = service.claim(conn, worker["id"], lease_seconds=60)  # a lease changes no count
    _check_every_filter(db, [a.id, b.id])
    with db.write() as conn:
        task = service.get(conn, lease.task_id)
        from taskforce.task_types import REGISTRY

        answer = REGISTRY.get(task["type"]).simulated_response(task["id"], task["params"])
        service.complete(conn, lease.task_id, answer, worker_id=worker["id"], lease_token=lease.token)
    _check_every_filter(db, [a.id, b.id])

    # Code that is not the service (an operator's fix, a future feature) is counted too.
    with db.write() as conn:
        conn.execute(update(tasks).where(tasks.c.id == made[1]["id"]).values(status="canceled"))
        conn.execute(update(tasks).where(tasks.c.id == made[2]["id"]).values(customer_id=b.id))
        conn.execute(update(tasks).where(tasks.c.id == made[3]["id"]).values(instruction="same count"))
        conn.execute(delete(tasks).where(tasks.c.id == made[4]["id"]))
    _check_every_filter(db, [a.id, b.id])

    # A transaction that rolls back leaves the counts as they were.
    try:
        with db.write() as conn:
            factory_params = made[5]
            conn.execute(delete(tasks).where(tasks.c.id == factory_params["id"]))
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    _check_every_filter(db, [a.id, b.id])
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(task_counts)).scalar_one() > 0


def test_api_total_is_the_count(db, factory, client) -> None:
    customer = factory.customer()
    for _ in range(3):
        factory.task(customer)
    factory.task(customer, is_test=True)
    page = client.get("/v1/tasks?limit=1", auth=customer.live_auth).json()
    assert page["total"] == 3 and len(page["docs"]) == 1
    first = page["docs"][0]["task_id"]
    assert client.post(f"/v1/task/{first}/cancel", auth=customer.live_auth).status_code == 200
    assert client.get("/v1/tasks?status=pending", auth=customer.live_auth).json()["total"] == 2
    assert client.get("/v1/tasks?status=canceled", auth=customer.live_auth).json()["total"] == 1
    assert client.get("/v1/tasks", auth=customer.test_auth).json()["total"] == 1
    # A filter the counters do not cover is counted directly, and agrees.
    assert client.get("/v1/tasks?start_time=2000-01-01", auth=customer.live_auth).json()["total"] == 3
