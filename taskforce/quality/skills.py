"""What we know of each worker's skill, per task type, for one customer: the ``Skills`` a
combiner is given.

Categories differ per task, so a confusion matrix is kept by label *text*
(``confusion[true][answered]``, expected counts) and a task's K×K matrix is cut out of it for the
task's own categories. Each column is smoothed towards the worker's one-coin accuracy (right with
probability ``accuracy``, else a uniform error): a label pair the worker has never met falls back
to that, a worker we have never seen to ``PRIOR_ACCURACY``. So history with one category list
still helps on another, and full matrices take over where the labels recur.

Everything is plain numbers and strings (``to_dict``/``from_dict``) for the storage side to keep.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from taskforce.quality import dawid_skene as ds
from taskforce.task_types.answers import Skills

#: One-coin smoothing: a worker's accuracy starts from this many answers at PRIOR_ACCURACY.
ACCURACY_PRIOR_ANSWERS = 4.0
#: Pseudo-answers per true class pulling a task's matrix towards the worker's one-coin accuracy.
#: That accuracy rests on all of the worker's answers, a column only on the ~1/K whose truth it
#: is; ten keep a column from straying on a few dozen answers and fade once it has a hundred
#: (on the simulated crowd, 2 gave 84.5% at overlap 3, 10 gave 85.6%, bench/README.md).
MATRIX_PRIOR_ANSWERS = 10.0
#: Above this many distinct labels in one type a full fit would need W×V×V floats; such a
#: customer gets one-coin accuracies only (agreement with the weighted majority).
MAX_MATRIX_LABELS = 24
#: z for the 95% Wilson interval of gold accuracy.
WILSON_Z = 1.959964


class ChoiceSkills(Skills, Protocol):
    """What the Dawid-Skene combiner needs beyond a weight."""

    def has_history(self, worker_id: int | None, task_type: str) -> bool: ...

    def likelihood(self, worker_id: int | None, task_type: str, labels: Sequence[str],
                   answered: int) -> list[float]: ...

    def prior(self, task_type: str, labels: Sequence[str]) -> list[float]: ...


@dataclass
class WorkerSkill:
    """One worker in one task type."""

    #: Answers seen and the expected number right (posterior mass on the answer, or agreement).
    answers: float = 0.0
    correct: float = 0.0
    #: Answers to gold tasks, and how many matched the gold answer.
    gold_answers: int = 0
    gold_correct: int = 0
    #: Expected counts: ``confusion[true_label][answered_label]``.
    confusion: dict[str, dict[str, float]] = field(default_factory=dict)

    def accuracy(self) -> float:
        """One-coin accuracy, smoothed towards ``PRIOR_ACCURACY``."""
        return ((self.correct + ACCURACY_PRIOR_ANSWERS * ds.PRIOR_ACCURACY)
                / (self.answers + ACCURACY_PRIOR_ANSWERS))


def wilson(correct: int, total: int, z: float = WILSON_Z) -> tuple[float, float]:
    """The Wilson score interval for a proportion; (0, 1) when nothing was seen."""
    if total <= 0:
        return 0.0, 1.0
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def likelihood_row(skill: WorkerSkill | None, labels: Sequence[str], answered: int) -> list[float]:
    """Row ``answered`` of a worker's matrix cut for ``labels``: the fitted counts of each true
    label's column, plus ``MATRIX_PRIOR_ANSWERS`` pseudo-answers at the worker's one-coin accuracy
    (``PRIOR_ACCURACY`` for a worker we do not know)."""
    k = len(labels)
    if k == 1:
        return [1.0]
    accuracy = skill.accuracy() if skill is not None else ds.PRIOR_ACCURACY
    strength = MATRIX_PRIOR_ANSWERS
    on, off = strength * accuracy, strength * (1.0 - accuracy) / (k - 1)
    confusion = skill.confusion if skill is not None else {}
    answered_label = labels[answered]
    row = []
    for c, true in enumerate(labels):
        column = confusion.get(true)
        hit = total = 0.0
        if column:
            hit = column.get(answered_label, 0.0)
            total = sum(column.get(label, 0.0) for label in labels)
        row.append((hit + (on if c == answered else off)) / (total + strength))
    return row


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class ChoiceAnswer:
    """One single-choice answer, as the background re-fit reads it."""

    task: Any                   # any hashable task key
    worker_id: int
    label: str
    #: The labels the task offered (its categories, choices or outcomes).
    options: tuple[str, ...]
    #: The task's gold answer, when it is a gold task.
    gold: str | None = None


def _majority_truth(tasks: np.ndarray, answered: np.ndarray, gold: np.ndarray, n_tasks: int,
                    n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Without matrices: the gold label, else the majority's (ties split), counts as the truth.
    Sparse, so memory stays O(answers) however many labels there are. Returns each answer's
    rightness, each task's label and its vote share, and the expected count per class."""
    keys = tasks * n_classes + answered
    pairs, votes = np.unique(keys, return_counts=True)
    pair_task, pair_label = pairs // n_classes, pairs % n_classes
    top = np.zeros(n_tasks, dtype=np.int64)
    np.maximum.at(top, pair_task, votes)
    winner = votes == top[pair_task]
    is_gold = gold[pair_task] >= 0
    winner = np.where(is_gold, pair_label == gold[pair_task], winner)
    n_winners = np.bincount(pair_task, weights=winner, minlength=n_tasks)
    share = np.where(winner, 1.0 / np.maximum(n_winners[pair_task], 1), 0.0)
    right = share[np.searchsorted(pairs, keys)]
    best = np.zeros(n_tasks, dtype=np.int64)
    order = np.lexsort((-pair_label, share, pair_task))  # per task, the winner last (lowest label on a tie)
    best[pair_task[order]] = pair_label[order]
    best = np.where(gold >= 0, gold, best)
    answers_per_task = np.bincount(tasks, minlength=n_tasks)
    confidence = np.where(gold >= 0, 1.0, top / np.maximum(answers_per_task, 1))
    class_totals = np.bincount(pair_label, weights=share, minlength=n_classes)
    return right, best, confidence, class_totals


class SkillModel:
    """Skills of one customer's workers, per task type (implements ``Skills``)."""

    def __init__(self) -> None:
        #: task type → worker id → skill
        self.workers: dict[str, dict[int, WorkerSkill]] = {}
        #: task type → label → expected count of tasks whose truth it is (class priors)
        self.class_counts: dict[str, dict[str, float]] = {}

    # -- what combiners ask --

    def skill(self, worker_id: int | None, task_type: str) -> WorkerSkill | None:
        if worker_id is None:
            return None
        return self.workers.get(task_type, {}).get(worker_id)

    def has_history(self, worker_id: int | None, task_type: str) -> bool:
        skill = self.skill(worker_id, task_type)
        return skill is not None and (skill.answers > 0 or skill.gold_answers > 0)

    def weight(self, worker_id: int | None, task_type: str) -> float:
        """The log-odds of the worker's accuracy, relative to an unknown worker's: 1.0 for a worker
        we know nothing of, more for better ones, 0 for a worker no better than a coin toss. (Log-odds
        are the weights under which a weighted vote is the most likely answer.)"""
        skill = self.skill(worker_id, task_type)
        if skill is None:
            return 1.0
        return max(0.0, _logit(skill.accuracy())) / _logit(ds.PRIOR_ACCURACY)

    def likelihood(self, worker_id: int | None, task_type: str, labels: Sequence[str],
                   answered: int) -> list[float]:
        """P(the worker answers ``labels[answered]`` | the truth is ``labels[c]``) for each c: one
        row of the task's matrix. Plain Python: this runs while a task completes, and for K of a
        few labels it is several times faster than building numpy arrays."""
        return likelihood_row(self.skill(worker_id, task_type), labels, answered)

    def matrix(self, worker_id: int | None, task_type: str, labels: Sequence[str]) -> np.ndarray:
        """(K, K) ``[answered, true]`` for a task offering ``labels``, columns summing to 1."""
        skill = self.skill(worker_id, task_type)
        return np.array([likelihood_row(skill, labels, a) for a in range(len(labels))])

    def prior(self, task_type: str, labels: Sequence[str]) -> list[float]:
        """Class priors over ``labels``, from the type's fitted truths plus one pseudo-task each."""
        counts = self.class_counts.get(task_type, {})
        out = [counts.get(label, 0.0) + 1.0 for label in labels]
        total = sum(out)
        return [x / total for x in out]

    def gold_accuracy(self, worker_id: int, task_type: str) -> tuple[float | None, float, float]:
        """The worker's share right on gold tasks and its 95% Wilson interval."""
        skill = self.skill(worker_id, task_type)
        if skill is None or skill.gold_answers == 0:
            return None, 0.0, 1.0
        low, high = wilson(skill.gold_correct, skill.gold_answers)
        return skill.gold_correct / skill.gold_answers, low, high

    # -- how it learns --

    def record(self, task_type: str, worker_id: int | None, agreed: float, *,
               gold_correct: bool | None = None) -> None:
        """One answer's outcome, as its task completes: ``agreed`` (0–1) is how far it matched the
        combined answer; ``gold_correct`` is set on a gold task. Text and multi-select types learn
        only this way; single-choice types also get a full re-fit (``fit_choices``)."""
        if worker_id is None:
            return
        skill = self.workers.setdefault(task_type, {}).setdefault(worker_id, WorkerSkill())
        skill.answers += 1
        skill.correct += min(max(agreed, 0.0), 1.0)
        if gold_correct is not None:
            skill.gold_answers += 1
            skill.gold_correct += int(gold_correct)

    def fit_choices(self, task_type: str, rows: Iterable[ChoiceAnswer], *,
                    max_iter: int = 100) -> dict[Any, tuple[str, float]]:
        """The periodic full EM over recent single-choice answers of one type. Replaces what was
        known of these workers in this type (the answers given are the window that counts) and
        returns each task's (label, posterior)."""
        rows = list(rows)
        if not rows:
            return {}
        vocab: dict[str, int] = {}
        task_index: dict[Any, int] = {}
        task_options: list[tuple[str, ...]] = []
        gold_of: list[str | None] = []
        worker_index: dict[int, int] = {}
        t_idx, w_idx, l_idx = [], [], []
        for row in rows:
            for label in row.options:
                vocab.setdefault(label, len(vocab))
            vocab.setdefault(row.label, len(vocab))
            t = task_index.get(row.task)
            if t is None:
                t = task_index[row.task] = len(task_options)
                task_options.append(row.options)
                gold_of.append(row.gold)
            t_idx.append(t)
            w_idx.append(worker_index.setdefault(row.worker_id, len(worker_index)))
            l_idx.append(vocab[row.label])
        labels = list(vocab)
        n_tasks, n_classes = len(task_options), len(labels)
        tasks, workers, answered = (np.array(x, dtype=np.int64) for x in (t_idx, w_idx, l_idx))
        gold = np.array([vocab[g] if g in vocab else -1 for g in gold_of], dtype=np.int64)

        is_gold = gold[tasks] >= 0
        if n_classes > MAX_MATRIX_LABELS:
            right, best, confidence, class_totals = _majority_truth(tasks, answered, gold, n_tasks, n_classes)
            counts = None
        else:
            allowed = np.zeros((n_tasks, n_classes), bool)
            for t, options in enumerate(task_options):
                allowed[t, [vocab[o] for o in options]] = True
            fit = ds.fit(tasks, workers, answered, n_classes=n_classes, n_tasks=n_tasks,
                         n_workers=len(worker_index), gold=gold, allowed=allowed, max_iter=max_iter)
            counts = fit.counts
            right = fit.posteriors[tasks, answered]
            best = fit.posteriors.argmax(axis=1)
            confidence = fit.posteriors[np.arange(n_tasks), best]
            class_totals = fit.posteriors.sum(axis=0)

        by_worker = self.workers.setdefault(task_type, {})
        per_worker_answers = np.bincount(workers, minlength=len(worker_index))
        per_worker_right = np.bincount(workers, weights=right, minlength=len(worker_index))
        gold_n = np.bincount(workers[is_gold], minlength=len(worker_index))
        gold_ok = np.bincount(workers[is_gold], weights=(answered == gold[tasks])[is_gold],
                              minlength=len(worker_index))
        for worker_id, w in worker_index.items():
            skill = WorkerSkill(answers=float(per_worker_answers[w]), correct=float(per_worker_right[w]),
                                gold_answers=int(gold_n[w]), gold_correct=int(gold_ok[w]))
            if counts is not None:
                # counts[w, answered, true]; kept sparse, by label text.
                nz_answered, nz_true = np.nonzero(counts[w] > 1e-3)
                for a, c in zip(nz_answered.tolist(), nz_true.tolist(), strict=True):
                    skill.confusion.setdefault(labels[c], {})[labels[a]] = round(float(counts[w, a, c]), 4)
            by_worker[worker_id] = skill
        self.class_counts[task_type] = {labels[c]: float(v) for c, v in enumerate(class_totals) if v > 0}
        return {task: (labels[best[t]], float(confidence[t])) for task, t in task_index.items()}

    # -- storage --

    def to_dict(self) -> dict[str, Any]:
        return {
            "workers": {
                task_type: {
                    str(worker_id): {
                        "answers": s.answers, "correct": s.correct, "gold_answers": s.gold_answers,
                        "gold_correct": s.gold_correct, "confusion": s.confusion,
                    } for worker_id, s in by_worker.items()
                } for task_type, by_worker in self.workers.items()
            },
            "class_counts": self.class_counts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SkillModel:
        model = cls()
        for task_type, by_worker in (data.get("workers") or {}).items():
            model.workers[task_type] = {
                int(worker_id): WorkerSkill(
                    answers=float(s.get("answers", 0)), correct=float(s.get("correct", 0)),
                    gold_answers=int(s.get("gold_answers", 0)), gold_correct=int(s.get("gold_correct", 0)),
                    confusion={t: {a: float(n) for a, n in col.items()}
                               for t, col in (s.get("confusion") or {}).items()},
                ) for worker_id, s in by_worker.items()
            }
        model.class_counts = {t: {label: float(n) for label, n in c.items()}
                              for t, c in (data.get("class_counts") or {}).items()}
        return model
