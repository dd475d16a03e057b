"""Gold (evaluation) tasks: tasks with a known answer, mixed into workers' streams to score them.

A gold task is a row of ``tasks`` with ``gold`` set and an ``expected_response``. It is created
held, so it is never in the queue (models.QUEUE) nor the queue's figures, and is handed out only
by ``claim_gold``: to each worker at most once, never completed by answers, never owing a
callback. On the worker's page it is a task like any other. A worker's answer is scored against
the expected response by the type's ``gold_matches`` hook (``matches``: normalised text and
choices, or shapes paired by overlap) and recorded on their assignment (``gold_correct``); then
the operator's rules (``rules``) may pause the worker from real tasks, or lift the pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, case, exists, func, insert, select, update
from sqlalchemy.engine import Connection

from taskforce import ids, site_settings
from taskforce.clock import format_ms, now_ms
from taskforce.errors import InvalidParameter, NotFound
from taskforce.models import GOLD, assignments, tasks, users
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import CreateParams, TaskType
from taskforce.tasks.status import PRIORITY, Status

#: The site setting (operator-set, safe defaults): a worker whose gold accuracy is below
#: ``min_accuracy`` after at least ``min_answers`` gold answers (in any one type) is paused from
#: real tasks. One JSON object: SQLite's JSON column would hand a bare number back as a float.
GOLD_RULES = "gold_rules"
site_settings.DEFAULTS.setdefault(GOLD_RULES, {"min_accuracy": 0.6, "min_answers": 10})


def matches(task_type: TaskType, params: Any, expected: Any, given: Any) -> bool:
    """Whether ``given`` (a validated answer) is right against a gold task's expected response:
    the type's ``gold_matches`` hook (choices and text up to case and spacing by default; shapes
    paired by overlap for the annotation types)."""
    return bool(task_type.gold_matches(params, expected, given))


# -- creating and listing -----------------------------------------------------------------------


def create(conn: Connection, *, customer_id: int, is_test: bool, task_type: TaskType,
           params: CreateParams, expected: Any, now: int | None = None) -> dict[str, Any]:
    """A gold task of this type; ``expected`` is checked by the type's own answer validation."""
    if not isinstance(expected, dict):
        raise InvalidParameter("expected_response", "is required: an object, the answer a worker should give")
    try:
        expected = task_type.validate_response(params.task_params(), expected)
    except InvalidParameter as exc:
        raise InvalidParameter("expected_response", exc.message) from None
    now = now if now is not None else now_ms()
    row = {
        "id": ids.new_task_id(), "customer_id": customer_id, "is_test": is_test, "type": task_type.name,
        "status": Status.PENDING.value, "urgency": params.urgency, "priority": PRIORITY[params.urgency],
        "instruction": params.instruction, "callback_url": params.callback_url,
        "params": params.task_params(), "metadata": params.metadata, "response": None,
        "created_at": now, "held": True, "gold": True, "expected_response": expected,
        "unique_id": params.unique_id,
    }
    conn.execute(insert(tasks), row)
    return get(conn, row["id"], customer_id=customer_id, is_test=is_test)


_GOLD_COLUMNS = (tasks.c.id, tasks.c.type, tasks.c.status, tasks.c.instruction, tasks.c.urgency,
                 tasks.c.params, tasks.c.metadata, tasks.c.expected_response, tasks.c.created_at,
                 tasks.c.customer_id, tasks.c.is_test)


def get(conn: Connection, task_id: str, *, customer_id: int | None = None,
        is_test: bool | None = None) -> dict[str, Any]:
    query = select(*_GOLD_COLUMNS).where(tasks.c.id == task_id, tasks.c.gold.is_(True))
    if customer_id is not None:
        query = query.where(tasks.c.customer_id == customer_id, tasks.c.is_test == is_test)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no evaluation task with task_id {task_id!r}")
    return dict(row)


def list_for(conn: Connection, *, customer_id: int, is_test: bool, limit: int = 100,
             offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    scope = [tasks.c.customer_id == customer_id, tasks.c.is_test == is_test, tasks.c.gold.is_(True)]
    rows = conn.execute(select(*_GOLD_COLUMNS).where(*scope)
                        .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
                        .limit(limit).offset(offset)).mappings().all()
    total = conn.execute(select(func.count()).select_from(tasks).where(*scope)).scalar_one()
    return [dict(r) for r in rows], int(total)


def evaluation_object(row: dict[str, Any]) -> dict[str, Any]:
    """The API's view of a gold task (Scale's evaluation task)."""
    return {
        "task_id": row["id"], "type": row["type"], "status": row["status"],
        "instruction": row["instruction"], "urgency": row["urgency"], "params": row["params"],
        "metadata": row["metadata"], "expected_response": row["expected_response"],
        "created_at": format_ms(row["created_at"]),
    }


def from_completed_task(conn: Connection, task_id: str, *, now: int | None = None) -> dict[str, Any]:
    """An operator turns a completed live task into gold: a new gold task with the same type,
    instruction and parameters, whose expected response is the task's final response."""
    row = conn.execute(select(tasks).where(tasks.c.id == task_id)).mappings().first()
    if row is None or row["gold"]:
        raise NotFound(f"task_id: no task {task_id!r}")
    if row["status"] != Status.COMPLETED.value or row["response"] is None:
        raise InvalidParameter("task_id", f"task {task_id} is {row['status']}; only a completed task can become gold")
    if REGISTRY.find(row["type"]) is None:
        raise InvalidParameter("task_id", f"{row['type']} is no longer a known task type")
    now = now if now is not None else now_ms()
    gold_id = ids.new_task_id()
    conn.execute(insert(tasks), {
        "id": gold_id, "customer_id": row["customer_id"], "is_test": row["is_test"], "type": row["type"],
        "status": Status.PENDING.value, "urgency": row["urgency"], "priority": row["priority"],
        "instruction": row["instruction"], "callback_url": row["callback_url"], "params": row["params"],
        "metadata": row["metadata"], "response": None, "created_at": now, "held": True, "gold": True,
        "expected_response": row["response"],
    })
    return get(conn, gold_id)


# -- handing gold out ---------------------------------------------------------------------------

_seen_by_worker = exists().where(assignments.c.task_id == tasks.c.id,
                                 assignments.c.worker_id == bindparam("b_worker"))


def _next_gold(dialect: str):
    # GOLD's literal predicate, so both planners use ix_tasks_gold.
    return (select(tasks.c.id).where(GOLD.clause(dialect), ~_seen_by_worker)
            .order_by(tasks.c.created_at, tasks.c.id).limit(1))


_NEXT_GOLD = {dialect: _next_gold(dialect) for dialect in ("sqlite", "postgresql")}
# Gold rows keep leases_open in step too, so releases and skips (which decrement it) stay right.
_TAKE_GOLD = (update(tasks).where(tasks.c.id == bindparam("b_id"), tasks.c.gold.is_(True),
                                  tasks.c.status == Status.PENDING.value)
              .values(leases_open=tasks.c.leases_open + 1))


def claim_gold(conn: Connection, worker_id: int, *, expires: int, now: int):
    """Lease this worker a gold task they have never been handed; None when none is left."""
    row = conn.execute(_NEXT_GOLD[conn.dialect.name], {"b_worker": worker_id}).first()
    if row is None or not conn.execute(_TAKE_GOLD, {"b_id": row[0]}).rowcount:
        return None
    token = ids.new_lease_token()
    conn.execute(insert(assignments), {"task_id": row[0], "worker_id": worker_id, "lease_token": token,
                                       "claimed_at": now, "lease_expires_at": expires})
    return row[0], token


def gold_turn(claims_made: int, rate: float) -> bool:
    """Whether this claim (counted from 0) is a gold task's turn: one in ``round(1/rate)``,
    the first of each run, so that a new worker meets gold early."""
    if rate <= 0:
        return False
    period = max(1, round(1 / rate))
    return claims_made % period == 0


# -- scoring and the rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    min_accuracy: float
    min_answers: int


def rules(conn: Connection) -> Rules:
    value = site_settings.get(conn, GOLD_RULES)
    return Rules(float(value["min_accuracy"]), int(value["min_answers"]))


def set_rules(conn: Connection, *, min_accuracy: float, min_answers: int) -> None:
    if not 0 <= min_accuracy <= 1:
        raise InvalidParameter("min_accuracy", "must be between 0 and 1")
    if not 1 <= min_answers <= 10_000:
        raise InvalidParameter("min_answers", "must be between 1 and 10000")
    site_settings.put(conn, GOLD_RULES, {"min_accuracy": min_accuracy, "min_answers": min_answers})


def gold_counts(conn: Connection, worker_ids: list[int] | None = None) -> dict[tuple[int, str], tuple[int, int]]:
    """(worker, type) → (gold answers, correct ones)."""
    right = func.sum(case((assignments.c.gold_correct.is_(True), 1), else_=0))
    query = (select(assignments.c.worker_id, tasks.c.type, func.count(), right)
             .select_from(assignments.join(tasks, tasks.c.id == assignments.c.task_id))
             .where(assignments.c.gold_correct.is_not(None))
             .group_by(assignments.c.worker_id, tasks.c.type))
    if worker_ids is not None:
        query = query.where(assignments.c.worker_id.in_(worker_ids))
    return {(w, t): (int(n), int(c or 0)) for w, t, n, c in conn.execute(query)}


def below_threshold(counts: dict[str, tuple[int, int]], rule: Rules) -> bool:
    """Whether any type's gold accuracy is below the threshold after enough gold answers."""
    return any(n >= rule.min_answers and c / n < rule.min_accuracy for n, c in counts.values())


def apply_rules(conn: Connection, worker_id: int) -> bool:
    """Pause the worker from real tasks, or lift the pause, from their gold record now; returns
    whether they are paused."""
    per_type = {t: nc for (w, t), nc in gold_counts(conn, [worker_id]).items()}
    paused = below_threshold(per_type, rules(conn))
    conn.execute(update(users).where(users.c.id == worker_id, users.c.gold_paused.is_not(paused))
                 .values(gold_paused=paused))
    return paused


def record_answer(conn: Connection, assignment_id: int, worker_id: int, correct: bool) -> None:
    conn.execute(update(assignments).where(assignments.c.id == assignment_id).values(gold_correct=correct))
    apply_rules(conn, worker_id)


def reinstate(conn: Connection, worker_id: int) -> None:
    """The operator lifts a pause by hand (the worker's next gold answer applies the rules again)."""
    conn.execute(update(users).where(users.c.id == worker_id).values(gold_paused=False))


# -- a paused worker's answers count for less -----------------------------------------------------

#: How much a paused worker's answer counts, against 1 for the same worker unpaused: while they
#: are below the gold threshold their answers on tasks not yet final still count, but little.
PAUSED_WEIGHT = 0.25


class PausedDownweighted:
    """``Skills`` for a combine hook: the inner skills (or equal weights), with paused workers'
    weights scaled by ``PAUSED_WEIGHT`` and their likelihood rows flattened towards uniform by as
    much. Anything else is asked of the inner skills (absent when there are none)."""

    def __init__(self, inner: Any, paused: set[int]) -> None:
        self._inner = inner
        self._paused = paused

    def weight(self, worker_id: int | None, task_type: str) -> float:
        base = self._inner.weight(worker_id, task_type) if self._inner is not None else 1.0
        return base * PAUSED_WEIGHT if worker_id in self._paused else base

    def likelihood(self, worker_id: int | None, task_type: str, labels: Any, answered: int) -> list[float]:
        row = self._inner.likelihood(worker_id, task_type, labels, answered)
        if worker_id not in self._paused:
            return row
        return [PAUSED_WEIGHT * p + (1 - PAUSED_WEIGHT) / len(row) for p in row]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or self._inner is None:
            raise AttributeError(name)
        return getattr(self._inner, name)


# Built once (an expanding IN): it runs in every completing transaction that combines, where
# building the statement and its cache key cost more than running it.
_PAUSED_AMONG = select(users.c.id).where(users.c.id.in_(bindparam("b_ids", expanding=True)),
                                         users.c.gold_paused.is_(True))


def with_paused(conn: Connection, skills: Any, worker_ids: list[int | None]):
    """``skills`` as they are when none of these workers is paused (one small look-up), else
    wrapped so that the paused ones' answers count for less."""
    ids = sorted({w for w in worker_ids if w is not None})
    if not ids:
        return skills
    paused = set(conn.execute(_PAUSED_AMONG, {"b_ids": ids}).scalars())
    return PausedDownweighted(skills, paused) if paused else skills
