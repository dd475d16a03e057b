"""Combining multi-select answers: each category is its own yes/no question.

A category is chosen when the answers that chose it hold more than half of the weight (weights
are log-odds of skill, so this is the most likely answer for workers who err symmetrically); at
exactly half, the most skilled worker decides. An answer must choose at least one category, so
when none passes, the one with the most weight is chosen. The confidence of a category is the
weight share on its winning side; the task's is the lowest of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MultiResult:
    chosen: list[str]
    confidence: float
    #: Weight share on the winning side, per category.
    per_category: dict[str, float]
    #: Share of answers (by count) on the winning side, per category.
    agreement: dict[str, float]


def combine_sets(categories: Sequence[str], answers: Sequence[Sequence[str]],
                 weights: Sequence[float]) -> MultiResult:
    n = len(answers)
    if n == 0:
        raise ValueError("no answers to combine")
    if not any(weights):
        weights = [1.0] * n
    total = float(sum(weights))
    top = max(range(n), key=lambda i: (weights[i], -i))
    sets = [set(a) for a in answers]
    chosen: list[str] = []
    share: dict[str, float] = {}
    for category in categories:
        yes = sum(w for s, w in zip(sets, weights, strict=True) if category in s) / total
        if yes > 0.5 or (yes == 0.5 and category in sets[top]):
            chosen.append(category)
        share[category] = yes
    if not chosen:
        # Every answer chose something, so some category has weight.
        chosen.append(max(categories, key=lambda c: (share[c], c in sets[top])))
    per_category = {c: (share[c] if c in chosen else 1 - share[c]) for c in categories}
    agreement = {c: sum(1 for s in sets if (c in s) == (c in chosen)) / n for c in categories}
    return MultiResult(chosen=chosen, confidence=min(per_category.values()),
                       per_category=per_category, agreement=agreement)
