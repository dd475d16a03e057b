"""Each worker's skill as the operator's Workers page shows it, per task type: gold accuracy with
its count and Wilson interval, agreement with final answers, answers per hour, and flags (too
fast, too many skips, gold accuracy below the rules' threshold).

Everything but gold reads the last ``WINDOW_MS`` of the assignments history (its index is
(worker_id, claimed_at)); gold reads every gold answer, which the rules judge too."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Connection

from taskforce.clock import now_ms
from taskforce.models import assignments, tasks
from taskforce.quality import gold
from taskforce.quality.skills import wilson
from taskforce.task_types import REGISTRY

WINDOW_MS = 7 * 86_400_000
#: A worker is "too fast" in a type when their median time is below this share of everyone's
#: median there, once they have ``MIN_ANSWERS_FOR_SPEED`` answers in it.
TOO_FAST_SHARE = 0.3
MIN_ANSWERS_FOR_SPEED = 5
#: "Too many skips": more than this share of their finished claims skipped, out of at least
#: ``MIN_CLAIMS_FOR_SKIPS``.
TOO_MANY_SKIPS_SHARE = 0.5
MIN_CLAIMS_FOR_SKIPS = 10


@dataclass
class TypeSkill:
    gold_answers: int = 0
    gold_correct: int = 0
    #: Answers on completed multi-answer tasks, and how many matched the final response.
    compared: int = 0
    agreed: int = 0
    answers: int = 0
    answer_ms: list[int] = field(default_factory=list)

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_answers if self.gold_answers else None

    @property
    def gold_interval(self) -> tuple[float, float]:
        return wilson(self.gold_correct, self.gold_answers)

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.compared if self.compared else None

    @property
    def median_ms(self) -> float | None:
        return float(statistics.median(self.answer_ms)) if self.answer_ms else None


@dataclass
class WorkerSkill:
    types: dict[str, TypeSkill] = field(default_factory=dict)
    skipped: int = 0
    flags: list[str] = field(default_factory=list)

    @property
    def answers_per_hour(self) -> float | None:
        """Answers per hour of time spent on them (claim to submission)."""
        ms = sum(sum(t.answer_ms) for t in self.types.values())
        n = sum(t.answers for t in self.types.values())
        return n * 3_600_000 / ms if ms > 0 else None


def worker_skills(conn: Connection, worker_ids: Iterable[int], *, now: int | None = None) -> dict[int, WorkerSkill]:
    now = now if now is not None else now_ms()
    ids = sorted(set(worker_ids))
    skills = {wid: WorkerSkill() for wid in ids}
    if not ids:
        return skills
    for (wid, type_name), (n, correct) in gold.gold_counts(conn, ids).items():
        skill = skills[wid].types.setdefault(type_name, TypeSkill())
        skill.gold_answers, skill.gold_correct = n, correct

    rows = conn.execute(
        select(assignments.c.worker_id, assignments.c.outcome, assignments.c.answer, assignments.c.claimed_at,
               assignments.c.finished_at, tasks.c.type, tasks.c.gold, tasks.c.status, tasks.c.response,
               tasks.c.answers_needed, tasks.c.params)
        .select_from(assignments.join(tasks, tasks.c.id == assignments.c.task_id))
        .where(assignments.c.worker_id.in_(ids), assignments.c.claimed_at >= now - WINDOW_MS,
               assignments.c.outcome.in_(("submitted", "skipped")))
    ).all()
    everyone: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        skill = skills[r.worker_id]
        if r.outcome == "skipped":
            skill.skipped += 1
            continue
        type_skill = skill.types.setdefault(r.type, TypeSkill())
        ms = max(0, (r.finished_at or r.claimed_at) - r.claimed_at)
        type_skill.answers += 1
        type_skill.answer_ms.append(ms)
        everyone[r.type].append(ms)
        task_type = REGISTRY.find(r.type)
        if (not r.gold and r.status == "completed" and r.answers_needed > 1 and r.response is not None
                and task_type is not None):
            # Agreeing with the final answer is judged as a gold answer is (shapes by overlap);
            # a row the type cannot read (stored before a rule changed) is left out, not fatal.
            try:
                agreed = gold.matches(task_type, r.params, r.response, r.answer)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            type_skill.compared += 1
            type_skill.agreed += agreed

    rule = gold.rules(conn)
    type_median = {t: statistics.median(v) for t, v in everyone.items()}
    for skill in skills.values():
        fast = [t for t, s in skill.types.items()
                if len(s.answer_ms) >= MIN_ANSWERS_FOR_SPEED and type_median.get(t)
                and s.median_ms < TOO_FAST_SHARE * type_median[t]]
        if fast:
            skill.flags.append("too fast (" + ", ".join(sorted(fast)) + ")")
        answered = sum(s.answers for s in skill.types.values())
        finished = answered + skill.skipped
        if finished >= MIN_CLAIMS_FOR_SKIPS and skill.skipped > TOO_MANY_SKIPS_SHARE * finished:
            skill.flags.append("too many skips")
        low = [t for t, s in skill.types.items()
               if gold.below_threshold({t: (s.gold_answers, s.gold_correct)}, rule)]
        if low:
            skill.flags.append("low gold accuracy (" + ", ".join(sorted(low)) + ")")
        skill.types = dict(sorted(skill.types.items()))
    return skills
