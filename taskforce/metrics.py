"""``GET /metrics``: Prometheus text from the official ``prometheus-client``.

Two sources, chosen by what each number is (docs/decisions.md, "Metrics across processes"):

* **Events** (requests and their latency, callback attempts, give-ups, completion→delivery
  latency) are counted in the process where they happen. Under ``serve --workers N`` each worker
  writes them to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` (the library's multiprocess
  mode, which ``taskforce serve`` turns on), and any worker's scrape sums every process's files.
* **State** (tasks created and completed, queue depth, the oldest waiting task, active leases,
  callbacks owed and retrying, dispatcher lag) is read from the database at scrape time, so it is
  right whichever process answers and whichever process (``serve`` or ``dispatch``) did the work.
  Every state query is answered from a partial index or from ``task_counts``: a few
  milliseconds at 1,000,000 tasks (bench/README.md).

The state queries live together in ``read_state`` so the schema they assume is in one place.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import text
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import Response

from taskforce.clock import now_ms
from taskforce.models import FREE_SLOT, OPEN_ASSIGNMENT, QUEUE
from taskforce.tasks.status import PRIORITY

#: Set by ``taskforce serve`` before any worker imports this module (the library reads it then).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DELIVERY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
                     6 * 3600.0, 24 * 3600.0)

HTTP_REQUESTS = Counter(
    "taskforce_http_requests", "HTTP requests answered, by route template and status.",
    ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "taskforce_http_request_duration_seconds", "Time to answer an HTTP request.",
    ["method", "route"], buckets=_LATENCY_BUCKETS)
CALLBACK_ATTEMPTS = Counter(
    "taskforce_callback_attempts", "Callback POSTs sent, by result (delivered or failed).",
    ["result"])
CALLBACKS_GIVEN_UP = Counter(
    "taskforce_callbacks_given_up", "Callbacks abandoned after the last attempt or a 410.")
CALLBACK_DELIVERY_LATENCY = Histogram(
    "taskforce_callback_delivery_seconds",
    "From a task's completion to its callback's successful delivery.",
    buckets=_DELIVERY_BUCKETS)

#: urgency name → the queue's priority number (0 immediate, 1 day, 2 week).
_PRIORITY = {getattr(u, "value", u): p for u, p in PRIORITY.items()}
_URGENCY_OF = {p: u for u, p in _PRIORITY.items()}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)


def observe_callback(result: str, *, delivery_seconds: float | None = None) -> None:
    """One attempt's result: ``delivered``, ``failed`` (will retry) or ``given_up``."""
    CALLBACK_ATTEMPTS.labels("delivered" if result == "delivered" else "failed").inc()
    if result == "given_up":
        CALLBACKS_GIVEN_UP.inc()
    if delivery_seconds is not None:
        CALLBACK_DELIVERY_LATENCY.observe(max(0.0, delivery_seconds))


# -- state, read from the database at scrape time ----------------------------------------------


@dataclass
class State:
    #: (mode, type) → tasks ever created / completed.
    created: dict[tuple[str, str], int] = field(default_factory=dict)
    completed: dict[tuple[str, str], int] = field(default_factory=dict)
    #: urgency → live pending tasks nobody holds, and the age of the oldest (seconds).
    queue_depth: dict[str, int] = field(default_factory=dict)
    oldest_waiting_seconds: dict[str, float] = field(default_factory=dict)
    active_leases: int = 0
    callbacks_owed: int = 0
    callbacks_retrying: int = 0
    dispatcher_lag_seconds: float = 0.0


def _sql(dialect: str) -> dict[str, object]:
    # SQLite's planner is told the index: once ANALYZE has run it may prefer a customer index.
    queue_ix = "INDEXED BY ix_tasks_queue" if dialect == "sqlite" else ""
    depth_ix = "INDEXED BY ix_tasks_queue_depth" if dialect == "sqlite" else ""
    # The partial indexes' own predicates (models.py), word for word, so the planner uses them.
    queue = QUEUE.sql(dialect)
    return {
        "counts": text("SELECT is_test, type, status, SUM(n) FROM task_counts "
                       "GROUP BY is_test, type, status"),
        "depth": text(f"SELECT priority, COUNT(*) FROM tasks {depth_ix} "
                      f"WHERE {queue} AND {FREE_SLOT} GROUP BY priority"),
        "oldest": text(f"SELECT created_at FROM tasks {queue_ix} "
                       f"WHERE {queue} AND priority = :priority AND {FREE_SLOT} "
                       "ORDER BY priority, created_at, id LIMIT 1"),
        "leases": text(f"SELECT COUNT(*) FROM assignments WHERE {OPEN_ASSIGNMENT.sql(dialect)} "
                       "AND lease_expires_at >= :now"),
        "deliveries": text("SELECT COUNT(*), COALESCE(SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0), "
                           "MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'"),
    }


_STATEMENTS: dict[str, dict[str, object]] = {}


def read_state(conn: Connection, *, now: int | None = None) -> State:
    """Everything /metrics reports from the database, in one read transaction."""
    now = now if now is not None else now_ms()
    sql = _STATEMENTS.setdefault(conn.dialect.name, _sql(conn.dialect.name))
    state = State()
    for is_test, type_, status, n in conn.execute(sql["counts"]):
        key = ("test" if is_test else "live", type_)
        state.created[key] = state.created.get(key, 0) + int(n)
        if status == "completed":
            state.completed[key] = state.completed.get(key, 0) + int(n)
    for urgency in _PRIORITY:
        state.queue_depth[urgency] = 0
        state.oldest_waiting_seconds[urgency] = 0.0
    for priority, n in conn.execute(sql["depth"], {"now": now}):
        state.queue_depth[_URGENCY_OF[priority]] = int(n)
    for urgency, priority in _PRIORITY.items():
        if state.queue_depth[urgency]:
            created = conn.execute(sql["oldest"], {"now": now, "priority": priority}).scalar()
            if created is not None:
                state.oldest_waiting_seconds[urgency] = max(0.0, (now - created) / 1000)
    state.active_leases = int(conn.execute(sql["leases"], {"now": now}).scalar_one())
    owed, retrying, next_due = conn.execute(sql["deliveries"]).one()
    state.callbacks_owed, state.callbacks_retrying = int(owed), int(retrying)
    if next_due is not None and next_due < now:
        state.dispatcher_lag_seconds = (now - next_due) / 1000
    return state


class _StateCollector:
    """A custom collector: the database state as metric families, read once per scrape."""

    def __init__(self, state: State) -> None:
        self.state = state

    def collect(self):
        s = self.state
        created = CounterMetricFamily("taskforce_tasks_created", "Tasks created, by type and mode.",
                                      labels=["type", "mode"])
        completed = CounterMetricFamily("taskforce_tasks_completed",
                                        "Tasks completed, by type and mode.", labels=["type", "mode"])
        for (mode, type_), n in sorted(s.created.items()):
            created.add_metric([type_, mode], n)
            completed.add_metric([type_, mode], s.completed.get((mode, type_), 0))
        depth = GaugeMetricFamily("taskforce_queue_depth",
                                  "Live pending tasks no worker holds, by urgency.", labels=["urgency"])
        oldest = GaugeMetricFamily("taskforce_queue_oldest_waiting_seconds",
                                   "Age of the oldest live task waiting for a worker, by urgency.",
                                   labels=["urgency"])
        for urgency in _PRIORITY:
            depth.add_metric([urgency], s.queue_depth[urgency])
            oldest.add_metric([urgency], s.oldest_waiting_seconds[urgency])
        yield from (created, completed, depth, oldest)
        yield GaugeMetricFamily("taskforce_active_leases", "Tasks a worker holds right now.",
                                value=s.active_leases)
        yield GaugeMetricFamily("taskforce_callbacks_owed",
                                "Callbacks not yet delivered or given up.", value=s.callbacks_owed)
        yield GaugeMetricFamily("taskforce_callbacks_retrying",
                                "Owed callbacks that already failed at least once.",
                                value=s.callbacks_retrying)
        yield GaugeMetricFamily("taskforce_dispatcher_lag_seconds",
                                "How long the oldest due callback has been waiting to be sent.",
                                value=s.dispatcher_lag_seconds)


def _event_registry() -> CollectorRegistry:
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def render(conn: Connection) -> bytes:
    """The whole exposition: this host's event counters plus the database state."""
    state_registry = CollectorRegistry(auto_describe=False)
    state_registry.register(_StateCollector(read_state(conn)))
    return generate_latest(_event_registry()) + generate_latest(state_registry)


def authorized(request: Request, token: str) -> bool:
    if not token:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics_endpoint(request: Request) -> Response:
    from taskforce.api.errors import error_response

    state = request.app.state.taskforce
    if not authorized(request, state.settings.metrics_token):
        return error_response(401, "metrics need Authorization: Bearer <TASKFORCE_METRICS_TOKEN>",
                              headers={"WWW-Authenticate": "Bearer"})
    with state.db.read() as conn:
        body = render(conn)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def install(app) -> None:
    app.add_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
