"""Dynamic overlap: after each answer, is the task final, does it need one more answer, or does
it go to an operator's Review queue?

Start at ``overlap`` answers; while the combined answer's confidence is below ``min_confidence``
and fewer than ``max_overlap`` answers are in, ask one more worker. At ``max_overlap`` (or at
``overlap`` when there is no ``max_overlap``) a task still below ``min_confidence``, or one whose
answers all disagree, goes to review. Answers that all disagree get more workers first while
there is room: one more answer may settle them.
"""

from __future__ import annotations

import enum

from taskforce.task_types.answers import Combined


class Next(enum.StrEnum):
    #: The combined answer is the task's response.
    FINAL = "final"
    #: Ask one more worker.
    MORE = "more"
    #: An operator decides.
    REVIEW = "review"


def all_disagree(combined: Combined, n_answers: int) -> bool:
    """No two of the answers agree on anything: every field's agreement is 1/n."""
    if n_answers < 2 or not combined.agreement:
        return False
    return all(value * n_answers < 1.5 for value in combined.agreement.values())


def next_step(n_answers: int, combined: Combined | None, *, overlap: int,
              max_overlap: int | None = None, min_confidence: float | None = None,
              disagree: bool | None = None) -> Next:
    """What to do with a task holding ``n_answers`` answers combined into ``combined``.
    ``disagree`` overrides ``all_disagree(combined, n_answers)`` when the caller knows more (the
    answers themselves: two identical ones agree even when the combined answer is neither)."""
    if overlap < 1:
        raise ValueError("overlap must be at least 1")
    if max_overlap is not None and max_overlap < overlap:
        raise ValueError("max_overlap must be at least overlap")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise ValueError("min_confidence must lie in 0..1")
    if n_answers < overlap or combined is None:
        return Next.MORE
    confident = min_confidence is None or combined.confidence >= min_confidence
    if disagree is None:
        disagree = all_disagree(combined, n_answers)
    if confident and not disagree:
        return Next.FINAL
    if n_answers < (max_overlap or overlap):
        return Next.MORE
    return Next.REVIEW
