"""Several workers' answers to one task, and the one answer made of them.

This is the contract between the queue (which collects answers in assignments), a task type
(whose ``combine`` hook turns answers into one response) and the quality code (which supplies
worker skill and the statistical combiners). With one answer needed, ``combine_single`` returns
that answer unchanged, so a one-answer task behaves exactly as before answers could be combined.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Answer:
    """One worker's validated answer to a task."""

    #: The worker's user id (``None`` for the test-mode simulated worker).
    worker_id: int | None
    #: The response as the type's ``validate_response`` returned it.
    response: Mapping[str, Any]
    #: Milliseconds from claim to submit, when known.
    duration_ms: int | None = None
    #: The weight the quality code gives this worker's answer (1.0 when nothing is known).
    weight: float = 1.0


@dataclass(frozen=True)
class Combined:
    """The final response made of a task's answers, and how sure we are of it."""

    response: dict[str, Any]
    #: 0–1: the posterior of the chosen answer, or the agreement behind it.
    confidence: float
    #: How it was made: ``single``, ``majority``, ``dawid_skene``, ``text_agreement``, ``review``…
    method: str
    #: Agreement (0–1) per field of the response, where the type can tell.
    agreement: dict[str, float] = field(default_factory=dict)
    #: The weight each answer got, in the order the answers were given.
    weights: tuple[float, ...] = ()


class Skills(Protocol):
    """What a combiner may ask about workers (filled in by the quality code)."""

    def weight(self, worker_id: int | None, task_type: str) -> float: ...


def combine_single(params: Mapping[str, Any], answers: Sequence[Answer],
                   skills: Skills | None = None) -> Combined:
    """The default hook: one answer needed, one answer given, returned as it is."""
    if not answers:
        raise ValueError("combine needs at least one answer")
    first = answers[0]
    return Combined(response=dict(first.response), confidence=1.0, method="single",
                    weights=tuple(1.0 for _ in answers))


def normalised(value: Any) -> Any:
    """Text compared as people mean it: Unicode-normalised, case-folded, whitespace collapsed."""
    if isinstance(value, str):
        return " ".join(unicodedata.normalize("NFKC", value).casefold().split())
    if isinstance(value, dict):
        return {k: normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def same_answer(params: Mapping[str, Any], expected: Any, given: Any) -> bool:
    """The default ``gold_matches`` hook: a choice must be the same label, text the same up to
    case and spacing (every part of the answer alike)."""
    return normalised(given) == normalised(expected)


def quality_combiner(type_name: str):
    """The combine hook of a built-in type: ``quality.combiners.COMBINERS[type_name]``, looked up
    when first used (the combiners read the type modules' helpers, so importing them here at
    import time would be circular)."""
    def combine(params: Mapping[str, Any], answers: Sequence[Answer],
                skills: Skills | None = None) -> Combined:
        from taskforce.quality.combiners import COMBINERS

        return COMBINERS[type_name](params, answers, skills)

    return combine
