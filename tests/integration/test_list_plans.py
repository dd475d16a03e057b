"""The list's filters are answered from an index, never by reading all of a customer's tasks:
each filter's query plan names the index made for it, on both backends. (The unfiltered list at
a million tasks is bench/bench_list.py's.)"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite

from taskforce.models import tasks
from taskforce.tasks import queries, service
from taskforce.tasks.representation import TASK_COLUMNS


def _page_query(f: queries.TaskFilter):
    return (select(*[tasks.c[name] for name in TASK_COLUMNS]).where(*queries._conditions(f))
            .order_by(tasks.c.created_at.desc(), tasks.c.id.desc()).limit(101))


def _plan(db, query) -> str:
    with db.read() as conn:
        if db.is_sqlite:
            compiled = query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
            rows = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
            return "\n".join(str(r[-1]) for r in rows)
        # A near-empty table is cheapest to scan whole: forbid that, so the plan shows whether
        # the index can serve the query at all.
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("ANALYZE tasks"))
        compiled = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        return "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")).all())


@pytest.mark.parametrize("filters,index", [
    ({"status": "canceled"}, "ix_tasks_customer_status"),
    ({"type": "transcription"}, "ix_tasks_customer_type"),
    ({"project": "p7"}, "ix_tasks_customer_project"),
    ({"batch": "b7"}, "ix_tasks_customer_batch"),
    ({"unique_id": "u7"}, "uq_tasks_unique_id"),
])
def test_each_list_filter_uses_its_index(db, factory, filters, index):
    customer = factory.customer()
    # Each filter matches one task in forty, as a selective filter would in a real account.
    for n in range(40):
        task = factory.task(customer, project=f"p{n}", batch=f"b{n}", unique_id=f"u{n}")
    factory.task(customer, "transcription")
    with db.write() as conn:
        service.cancel(conn, task["id"], customer_id=customer.id, is_test=False)
    plan = _plan(db, _page_query(queries.TaskFilter(customer_id=customer.id, is_test=False, **filters)))
    assert index in plan, plan
