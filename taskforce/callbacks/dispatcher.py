"""The dispatcher: sends what the outbox owes, records every attempt, retries with backoff.

Claiming. A delivery is due when ``status = 'pending'`` and ``next_attempt_at <= now``. A
dispatcher claims due rows by pushing ``next_attempt_at`` forward by a lease (longer than any
attempt can take) in one write transaction — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite — so several dispatchers, in one process or many, never send one delivery
at the same time. If a dispatcher dies mid-send, the lease runs out and another one (or the same
after a restart) sends again: at least once, with the same ``webhook-id``.

Fencing. The pushed-forward ``next_attempt_at`` is the claim's token: the result of an attempt is
applied only while the row still carries it (and is still pending), so a dispatcher that lost its
claim never overwrites the newer owner's state. Its attempt is still recorded.

Many in flight. Claimed rows are sent concurrently on one pooled aiohttp session, up to
``callback_concurrency`` at a time; results are written in batches by the loop, together with the
next claim, in one transaction. The loop wakes on the in-process TASK_COMPLETED signal and on a
finished send, and polls once a second for work committed by other processes and due retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver
from sqlalchemy import and_, bindparam, exists, func, insert, literal, literal_column, or_, select, update
from sqlalchemy.engine import Connection

from taskforce import pg_wakeups
from taskforce import signals as signal_topics
from taskforce.callbacks import backoff, http, reporting, signing
from taskforce.callbacks.address_policy import parse_networks
from taskforce.clock import now_ms
from taskforce.config import Settings
from taskforce.db import Database, is_disconnect
from taskforce.models import customers, deliveries, delivery_attempts, tasks
from taskforce.signals import Signals

log = logging.getLogger(__name__)

#: HTTP status that means "never send this again" (Standard Webhooks, Stripe, Svix alike).
GONE = 410


@dataclass(frozen=True)
class Claim:
    """One delivery this dispatcher holds until ``token`` (its pushed-forward next_attempt_at)."""

    id: int
    task_id: str
    webhook_id: str
    url: str
    body: bytes
    attempts: int
    token: int
    customer: dict[str, Any]
    #: When the task completed (the outbox row's created_at): completion→delivery latency.
    completed_at: int | None = None


@dataclass(frozen=True)
class Result:
    claim: Claim
    outcome: http.Outcome
    attempted_at: int


#: A literal, not a bound parameter: only then can SQLite (and a generic PostgreSQL plan) see
#: that the query implies the partial index ix_deliveries_due's ``status = 'pending'``.
_PENDING = deliveries.c.status == literal_column("'pending'")


def claim_due(conn: Connection, *, now: int, limit: int, lease_ms: int,
              exclude: frozenset[int] = frozenset()) -> list[Claim]:
    """Claim up to ``limit`` due deliveries; the caller's transaction must be a write."""
    if limit <= 0:
        return []
    query = (
        select(deliveries.c.id)
        .where(_PENDING, deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
    )
    if exclude:
        query = query.where(deliveries.c.id.not_in(exclude))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    token = now + lease_ms
    conn.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(next_attempt_at=token))
    try:
        with conn.begin_nested():
            return _claims(conn, ids, token)
    except Exception as exc:  # noqa: BLE001 - one unreadable row must not stop every delivery
        if is_disconnect(exc):
            raise
    # Row by row, setting aside what cannot be read, so the rest still go out.
    claims = []
    for delivery_id in ids:
        try:
            with conn.begin_nested():
                claims += _claims(conn, [delivery_id], token)
        except Exception as exc:  # noqa: BLE001
            if is_disconnect(exc):
                raise
            set_aside(conn, delivery_id, exc, now=now)
    return claims


_CLAIMED = (
    select(deliveries.c.id, deliveries.c.task_id, deliveries.c.webhook_id, deliveries.c.url,
           deliveries.c.body, deliveries.c.attempts, deliveries.c.created_at,
           customers.c.callback_auth_key,
           customers.c.signing_secret, customers.c.previous_signing_secret,
           customers.c.previous_secret_expires_at)
    .join(customers, customers.c.id == deliveries.c.customer_id)
)


def _claims(conn: Connection, ids: list[int], token: int) -> list[Claim]:
    rows = conn.execute(_CLAIMED.where(deliveries.c.id.in_(ids)).order_by(deliveries.c.id)).mappings()
    return [
        Claim(
            id=r["id"], task_id=r["task_id"], webhook_id=r["webhook_id"], url=r["url"],
            body=r["body"].encode(), attempts=r["attempts"], token=token,
            customer={k: r[k] for k in ("callback_auth_key", "signing_secret",
                                        "previous_signing_secret", "previous_secret_expires_at")},
            completed_at=r["created_at"],
        )
        for r in rows
    ]


#: ``last_error`` of a delivery the dispatcher set aside (operators list them by it).
SET_ASIDE_PREFIX = "set aside: "


def set_aside(conn: Connection, delivery_id: int, exc: BaseException, *, now: int) -> None:
    """Give up on a delivery the dispatcher cannot process (its row cannot be read, or its
    attempt cannot be recorded), so it is not claimed again every second; logged once."""
    # The first line only: a database error goes on with the statement and its parameters.
    first = (str(exc).strip().splitlines() or [""])[0]
    reason = f"{exc.__class__.__name__}: {first}".replace("\x00", "")[:500]
    log.error("callback dispatcher set aside delivery %s, which it cannot process: %s",
              delivery_id, reason)
    conn.execute(update(deliveries).where(deliveries.c.id == delivery_id, _PENDING)
                 .values(status="failed", next_attempt_at=now,
                         last_error=SET_ASIDE_PREFIX + "the dispatcher could not process it "
                                                       f"({reason})"))


def _is_set_aside():
    return and_(deliveries.c.status == "failed",
                deliveries.c.last_error.startswith(SET_ASIDE_PREFIX, autoescape=True))


def set_aside_deliveries(conn: Connection) -> list[dict[str, Any]]:
    """Deliveries the dispatcher set aside (for operators); ``batch_id`` is set for a batch's
    callback (``task_id`` is then null)."""
    return [dict(r) for r in conn.execute(
        select(deliveries.c.id, deliveries.c.task_id, deliveries.c.batch_id, deliveries.c.customer_id,
               customers.c.name.label("customer_name"), deliveries.c.url, deliveries.c.attempts,
               deliveries.c.created_at, deliveries.c.next_attempt_at.label("set_aside_at"),
               deliveries.c.last_error)
        .join(customers, customers.c.id == deliveries.c.customer_id)
        .where(_is_set_aside())
        .order_by(deliveries.c.id)).mappings()]


_later = deliveries.alias("later")


def retry_set_aside(conn: Connection, delivery_id: int, *, now: int) -> bool:
    """Owe a set-aside delivery again, due now (once whatever stopped the dispatcher is mended);
    False when it is not set aside, or a newer delivery of the same callback (a redelivery)
    exists: that one is what the receiver should get."""
    superseded = exists().where(
        _later.c.id > deliveries.c.id,
        or_(_later.c.task_id == deliveries.c.task_id, _later.c.batch_id == deliveries.c.batch_id))
    changed = conn.execute(
        update(deliveries).where(deliveries.c.id == delivery_id, _is_set_aside(), ~superseded)
        .values(status="pending", next_attempt_at=now, last_error=None)).rowcount
    if changed:
        pg_wakeups.wake(conn, signal_topics.TASK_COMPLETED)
    return bool(changed)


#: What a dismissed delivery's ``last_error`` starts with instead: no longer listed as set aside.
DISMISSED_PREFIX = "dismissed by an operator; was "


def dismiss_set_aside(conn: Connection, delivery_id: int) -> dict[str, Any] | None:
    """Give a set-aside delivery up for good: it leaves the operator's list, keeps its reason, and
    its task's callback reads as failed (as after the last retry). Returns the delivery's
    ``task_id`` and ``batch_id``, or None when it is not set aside."""
    row = conn.execute(select(deliveries.c.task_id, deliveries.c.batch_id)
                       .where(deliveries.c.id == delivery_id, _is_set_aside())).mappings().first()
    if row is None:
        return None
    conn.execute(update(deliveries).where(deliveries.c.id == delivery_id, _is_set_aside())
                 .values(last_error=literal(DISMISSED_PREFIX) + deliveries.c.last_error))
    if row["task_id"] is not None:
        conn.execute(_SETTLE_TASK, {"b_task": row["task_id"], "b_delivery": delivery_id,
                                    "b_status": "failed", "b_ok": False})
    return dict(row)


# Statements built once: per result only parameters change (building them per call cost more
# than executing them; see docs/decisions.md).
_newer = deliveries.alias("newer")
_SETTLE_TASK = (
    update(tasks)
    .where(tasks.c.id == bindparam("b_task"),
           # Only once the delivery really reached this final state (whoever wrote it: settling
           # is idempotent), and only for the task's newest delivery (a redelivery's decides).
           exists().where(deliveries.c.id == bindparam("b_delivery"),
                          deliveries.c.status == bindparam("b_status")),
           ~exists().where(_newer.c.task_id == bindparam("b_task"),
                           _newer.c.id > bindparam("b_delivery")))
    .values(callback_succeeded=bindparam("b_ok"))
)
_APPLY = (
    update(deliveries)
    # The fence: only while this claim still holds the row.
    .where(deliveries.c.id == bindparam("b_id"), deliveries.c.status == "pending",
           deliveries.c.next_attempt_at == bindparam("b_token"))
    .values(status=bindparam("b_status"), attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"), delivered_at=bindparam("b_delivered_at"),
            last_status_code=bindparam("b_code"), last_error=bindparam("b_error"))
)


def record_many(conn: Connection, results: list[Result], *, now: int, max_attempts: int,
                rng: random.Random | None = None) -> list[str]:
    """Write each attempt and what it means for its delivery; returns each delivery's new
    status (``"lost"`` when another dispatcher took the claim over meanwhile).

    Each step is one executemany (pipelined by psycopg, in-process on SQLite): a batch costs a
    few round trips, not a few per callback.
    """
    if not results:
        return []
    conn.execute(insert(delivery_attempts), [
        {"delivery_id": r.claim.id, "attempted_at": r.attempted_at,
         "status_code": r.outcome.status_code, "latency_ms": r.outcome.latency_ms,
         "error": r.outcome.error}
        for r in results
    ])
    applied = []
    for result in results:
        claim, outcome = result.claim, result.outcome
        attempts = claim.attempts + 1
        params = {"b_id": claim.id, "b_token": claim.token, "b_attempts": attempts,
                  "b_next": now, "b_delivered_at": None, "b_code": outcome.status_code,
                  "b_error": outcome.error}
        if outcome.ok:
            params.update(b_status="delivered", b_delivered_at=now)
        elif outcome.status_code == GONE:
            params.update(b_status="failed", b_error="HTTP 410 Gone: the receiver asked us to stop")
        elif attempts >= max_attempts:
            params.update(b_status="failed")
        else:
            params.update(b_status="pending", b_next=now + backoff.delay_ms(attempts, rng=rng))
        applied.append(params)
    conn.execute(_APPLY, applied)
    finals = [{"b_task": r.claim.task_id, "b_delivery": r.claim.id, "b_status": p["b_status"],
               "b_ok": p["b_status"] == "delivered"}
              for r, p in zip(results, applied) if p["b_status"] != "pending"]
    if finals:
        conn.execute(_SETTLE_TASK, finals)
    now_rows = {row.id: row for row in conn.execute(
        select(deliveries.c.id, deliveries.c.status, deliveries.c.attempts,
               deliveries.c.next_attempt_at)
        .where(deliveries.c.id.in_([p["b_id"] for p in applied])))}
    statuses = []
    for p in applied:
        row = now_rows.get(p["b_id"])
        ours = (row is not None and row.status == p["b_status"] and row.attempts == p["b_attempts"]
                and (p["b_status"] != "pending" or row.next_attempt_at == p["b_next"]))
        statuses.append(p["b_status"] if ours else "lost")
    return statuses


def record(conn: Connection, result: Result, *, now: int, max_attempts: int,
           rng: random.Random | None = None) -> str:
    """``record_many`` for one result."""
    return record_many(conn, [result], now=now, max_attempts=max_attempts, rng=rng)[0]


def release(conn: Connection, claims: list[Claim], *, now: int) -> None:
    """Hand back claims that were never attempted (shutdown), so they go out at once elsewhere."""
    for claim in claims:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.id == claim.id, deliveries.c.status == "pending",
                   deliveries.c.next_attempt_at == claim.token)
            .values(next_attempt_at=now)
        )


def next_due(conn: Connection) -> int | None:
    return conn.execute(
        select(func.min(deliveries.c.next_attempt_at)).where(_PENDING)
    ).scalar()


class Dispatcher:
    def __init__(self, db: Database, settings: Settings, *, signals: Signals | None = None,
                 clock: Callable[[], int] = now_ms, rng: random.Random | None = None,
                 resolver: AbstractResolver | None = None, poll_seconds: float = 1.0) -> None:
        self.db = db
        self.settings = settings
        self.signals = signals
        self.clock = clock
        self.rng = rng or random.Random()
        self.resolver = resolver
        self.poll_seconds = poll_seconds
        #: On shutdown, how long sends already in flight may take to finish.
        self.shutdown_grace = float(settings.shutdown_grace_seconds)
        self.allowed = parse_networks(settings.callback_allowed_networks)
        self.timeout = float(settings.callback_timeout_seconds)
        self.max_attempts = max(1, int(settings.callback_max_attempts))
        self.concurrency = max(1, int(settings.callback_concurrency))
        # Longer than any attempt can take, so a live claim never expires under its holder.
        self.lease_ms = int((2 * self.timeout + 5) * 1000)
        self._results: list[Result] = []
        self._in_flight: dict[int, tuple[Claim, asyncio.Task]] = {}
        self._wake: asyncio.Event | None = None

    # -- the parts, usable one step at a time (tests drive these with a controlled clock) ----

    def new_session(self) -> aiohttp.ClientSession:
        return http.new_session(self.allowed, concurrency=self.concurrency, timeout=self.timeout,
                                resolver=self.resolver)

    def headers(self, claim: Claim) -> dict[str, str]:
        return signing.callback_headers(claim.customer, claim.webhook_id, claim.body,
                                        timestamp=int(time.time()), now_ms=self.clock())

    async def attempt(self, session: aiohttp.ClientSession, claim: Claim) -> Result:
        attempted_at = self.clock()
        outcome = await http.post(session, claim.url, claim.body, self.headers(claim),
                                  allowed=self.allowed, timeout=self.timeout)
        return Result(claim, outcome, attempted_at)

    def claim(self, limit: int | None = None) -> list[Claim]:
        with self.db.write() as conn:
            return claim_due(conn, now=self.clock(), limit=limit or self.concurrency,
                             lease_ms=self.lease_ms)

    def record(self, results: list[Result]) -> list[str]:
        with self.db.write() as conn:
            now = self.clock()
            statuses = record_many(conn, results, now=now, max_attempts=self.max_attempts,
                                   rng=self.rng)
        reporting.recorded(results, statuses, now=now)
        return statuses

    async def run_once(self, session: aiohttp.ClientSession | None = None) -> list[Result]:
        """Claim what is due now, send it all concurrently, record the results."""
        own = session is None
        session = session or self.new_session()
        try:
            claims = await asyncio.to_thread(self.claim)
            results = list(await asyncio.gather(*(self.attempt(session, c) for c in claims)))
            await asyncio.to_thread(self.record, results)
            return results
        finally:
            if own:
                await session.close()

    # -- the loop --------------------------------------------------------------------------

    def _flush_and_claim(self, results: list[Result], free: int,
                         exclude: frozenset[int]) -> tuple[list[Claim], int | None]:
        # Runs on a worker thread: everything it needs is passed in, nothing shared is read.
        with self.db.write() as conn:
            now = self.clock()
            try:
                with conn.begin_nested():
                    statuses = record_many(conn, results, now=now, max_attempts=self.max_attempts,
                                           rng=self.rng)
            except Exception as exc:  # noqa: BLE001 - one result that cannot be written
                if is_disconnect(exc):
                    raise
                statuses = self._record_one_by_one(conn, results, now)
            claims = claim_due(conn, now=now, limit=free, lease_ms=self.lease_ms, exclude=exclude)
            due = next_due(conn)
        reporting.recorded(results, statuses, now=now)  # once saved
        return claims, due

    def _record_one_by_one(self, conn: Connection, results: list[Result], now: int) -> list[str]:
        """Each result in its own savepoint; a delivery whose result cannot be written is set
        aside, so it does not block the others' results (and claims) every second. Returns the
        statuses as ``record_many`` does (a set-aside delivery has ``failed``)."""
        statuses: list[str] = []
        for result in results:
            try:
                with conn.begin_nested():
                    statuses += record_many(conn, [result], now=now, max_attempts=self.max_attempts,
                                            rng=self.rng)
            except Exception as exc:  # noqa: BLE001
                if is_disconnect(exc):
                    raise
                set_aside(conn, result.claim.id, exc, now=now)
                statuses.append("failed")
        return statuses

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _send(self, session: aiohttp.ClientSession, claim: Claim) -> None:
        try:
            result = await self.attempt(session, claim)
        except Exception as exc:  # noqa: BLE001 - a bug must not strand the claim silently
            log.exception("callback attempt for delivery %s failed unexpectedly", claim.id)
            result = Result(claim, http.Outcome(None, 0, f"internal error: {exc.__class__.__name__}"),
                            self.clock())
        self._results.append(result)
        self._in_flight.pop(claim.id, None)
        self.wake()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        if self.signals is not None:
            # Publishers may be sync handlers on worker threads: hop onto our loop.
            self.signals.subscribe(signal_topics.TASK_COMPLETED, signal_topics.waker(loop, self._wake))
        session = self.new_session()
        try:
            while True:
                self._wake.clear()
                results, self._results = self._results, []
                free = self.concurrency - len(self._in_flight)
                claims: list[Claim] = []
                due: int | None = None
                if results or free > 0:
                    try:
                        claims, due = await asyncio.to_thread(
                            self._flush_and_claim, results, free, frozenset(self._in_flight))
                    except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                        log.exception("callback dispatcher: database step failed; retrying")
                        self._results[:0] = results
                        await asyncio.sleep(self.poll_seconds)
                        continue
                for claim in claims:
                    task = asyncio.create_task(self._send(session, claim))
                    self._in_flight[claim.id] = (claim, task)
                wait = self.poll_seconds
                if due is not None and len(self._in_flight) < self.concurrency:
                    wait = min(wait, max(0.0, (due - self.clock()) / 1000))
                if wait > 0 and not self._results:
                    await signal_topics.wait_woken(self._wake, wait)
        finally:
            await self._shutdown(session)

    async def _shutdown(self, session: aiohttp.ClientSession) -> None:
        # Sends already on the wire may finish (up to the grace); no new claims are made.
        sending = [task for _, task in self._in_flight.values()]
        if sending and self.shutdown_grace > 0:
            with contextlib.suppress(Exception):
                await asyncio.wait(sending, timeout=self.shutdown_grace)
        pending = [claim for claim, _ in self._in_flight.values()]
        for _, task in self._in_flight.values():
            task.cancel()
        for _, task in list(self._in_flight.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await session.close()
        # Best effort: what finished is recorded, what did not is due again at once.
        try:
            with self.db.write() as conn:
                now = self.clock()
                statuses = record_many(conn, self._results, now=now,
                                       max_attempts=self.max_attempts, rng=self.rng)
                done = {r.claim.id for r in self._results}
                release(conn, [c for c in pending if c.id not in done], now=now)
            reporting.recorded(self._results, statuses, now=now)
        except Exception:  # noqa: BLE001 - shutting down; the leases expire anyway
            log.warning("callback dispatcher: could not record state at shutdown", exc_info=True)
        self._results = []
        self._in_flight = {}
