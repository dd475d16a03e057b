"""The periodic re-fit of every customer's worker skills (issue 10): a full Dawid-Skene EM over
the recent single-choice answers of each type, and each other answer's agreement with its task's
final response, stored as the customer's ``SkillModel`` (quality/store.py).

Workers' answers on the customer's gold tasks go in too: in the EM as tasks whose label is known
(their posterior clamped to the expected response, so they measure the worker without being
outvoted), and for the other types as agreement with the expected response. A worker with little
history but a gold record is then weighed by that record.

The answers in ``assignments`` are the source of truth, so completing a task writes nothing here:
the model it reads is at most one interval old, and a re-fit replaces it whole. One damaged task
(params or answers that no longer read as their type's) is left out; one customer's failure is
logged and the others go on; a database outage is retried at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select

from taskforce.clock import now_ms
from taskforce.db import Database
from taskforce.models import assignments, tasks
from taskforce.quality import store
from taskforce.quality.combiners import answer_agreement
from taskforce.quality.skills import ChoiceAnswer, SkillModel
from taskforce.task_types.answers import Answer, Combined

log = logging.getLogger(__name__)

#: The most recent answers one customer's fit reads (a bound on memory and time per customer).
MAX_ANSWERS = 200_000


def choice_of(task_type: str, params: Mapping[str, Any], response: Mapping[str, Any]
              ) -> tuple[str, tuple[str, ...]] | None:
    """(label, options) when the type's answer is one choice among the task's labels."""
    if task_type == "categorization" and not params.get("allow_multiple"):
        return str(response["category"]), tuple(params["categories"])
    if task_type == "phonecall":
        from taskforce.task_types.phonecall import outcomes_of

        return str(response["outcome"]), tuple(outcomes_of(params))
    if task_type == "comparison" and params.get("choices"):
        return str(response["choice"]), tuple(params["choices"])
    return None


def _rows(conn, customer_id: int, is_test: bool, since: int):
    # Tasks that collected several answers (quality set) and are final, newest answers first.
    return conn.execute(
        select(tasks.c.id, tasks.c.type, tasks.c.params, tasks.c.response, assignments.c.worker_id,
               assignments.c.answer)
        .select_from(tasks.join(assignments, assignments.c.task_id == tasks.c.id))
        .where(tasks.c.customer_id == customer_id, tasks.c.is_test == is_test,
               tasks.c.status == "completed", tasks.c.quality.is_not(None), tasks.c.completed_at >= since,
               assignments.c.outcome == "submitted", assignments.c.worker_id.is_not(None))
        .order_by(tasks.c.completed_at.desc(), assignments.c.id)
        .limit(MAX_ANSWERS)
    ).all()


def _gold_rows(conn, customer_id: int, is_test: bool, since: int):
    # Answers scored on the customer's gold tasks in the window; the expected response stands
    # for the final one. Same columns as _rows.
    return conn.execute(
        select(tasks.c.id, tasks.c.type, tasks.c.params, tasks.c.expected_response.label("response"),
               assignments.c.worker_id, assignments.c.answer)
        .select_from(tasks.join(assignments, assignments.c.task_id == tasks.c.id))
        .where(tasks.c.customer_id == customer_id, tasks.c.is_test == is_test, tasks.c.gold.is_(True),
               assignments.c.outcome == "submitted", assignments.c.gold_correct.is_not(None),
               assignments.c.worker_id.is_not(None), assignments.c.finished_at >= since)
        .order_by(assignments.c.finished_at.desc(), assignments.c.id)
        .limit(MAX_ANSWERS)
    ).all()


def fit(rows, gold_rows=()) -> SkillModel:
    """A fresh model from (task id, type, params, response, worker id, answer) rows; in
    ``gold_rows`` the response is a gold task's expected one, which the EM takes as known."""
    model = SkillModel()
    choices: dict[str, list[ChoiceAnswer]] = defaultdict(list)
    by_task: dict[tuple[bool, str], list] = defaultdict(list)
    for is_gold, some in ((False, rows), (True, gold_rows)):
        for row in some:
            by_task[is_gold, row.id].append(row)
    for (is_gold, task_id), answers in by_task.items():
        first = answers[0]
        try:
            if not isinstance(first.params, Mapping) or not isinstance(first.response, Mapping):
                raise TypeError("params or response is not an object")
            truth = choice_of(first.type, first.params, first.response)
            if truth is not None:
                picked = []
                for a in answers:
                    label, options = choice_of(first.type, first.params, a.answer)  # type: ignore[misc]
                    picked.append(ChoiceAnswer(task_id, a.worker_id, label, options,
                                               gold=truth[0] if is_gold else None))
                choices[first.type].extend(picked)
            else:
                given = [Answer(a.worker_id, a.answer) for a in answers]
                agreed = answer_agreement(Combined(first.response, 1.0, "final"), given)
                for a, value in zip(given, agreed, strict=True):
                    model.record(first.type, a.worker_id, value)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("skill re-fit left out task %s: %s: %s", task_id, exc.__class__.__name__, exc)
    for task_type, picked in choices.items():
        model.fit_choices(task_type, picked)
    return model


def refit_all(db: Database, *, now: int, window_ms: int) -> int:
    """Re-fit every customer (and mode) with combined tasks in the window; returns how many."""
    since = now - window_ms
    with db.read() as conn:
        who = conn.execute(select(tasks.c.customer_id, tasks.c.is_test).distinct().where(
            tasks.c.quality.is_not(None), tasks.c.status == "completed",
            tasks.c.completed_at >= since)).all()
        # Customers whose only recent answers are on gold still get a model from them.
        who = sorted(set(who) | set(conn.execute(
            select(tasks.c.customer_id, tasks.c.is_test).distinct()
            .select_from(tasks.join(assignments, assignments.c.task_id == tasks.c.id))
            .where(tasks.c.gold.is_(True), assignments.c.gold_correct.is_not(None),
                   assignments.c.finished_at >= since)).all()))
    fitted = 0
    for customer_id, is_test in who:
        try:
            with db.read() as conn:
                rows = _rows(conn, customer_id, bool(is_test), since)
                gold_rows = _gold_rows(conn, customer_id, bool(is_test), since)
            model = fit(rows, gold_rows)
            with db.write() as conn:
                store.save(conn, customer_id, bool(is_test), model, now=now)
            fitted += 1
        except Exception as exc:  # noqa: BLE001 - one customer's failure must not stop the others
            if _is_outage(exc):
                raise
            log.error("skill re-fit failed for customer %s: %s: %s", customer_id, exc.__class__.__name__,
                      (str(exc).strip().splitlines() or [""])[0])
    return fitted


def _is_outage(exc: BaseException) -> bool:
    from taskforce.db import is_disconnect

    return is_disconnect(exc)


class SkillRefitter:
    def __init__(self, db: Database, *, interval_seconds: float, window_days: float,
                 clock: Callable[[], int] = now_ms) -> None:
        self.db = db
        self.interval = interval_seconds
        self.window_ms = int(window_days * 86_400_000)
        self.clock = clock

    def step(self) -> int:
        return refit_all(self.db, now=self.clock(), window_ms=self.window_ms)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(self.step)
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.exception("skill re-fit failed; retrying at the next interval")
