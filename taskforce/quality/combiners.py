"""Each task type's ``combine`` hook: ``combine(params, answers, skills) -> Combined``.

- categorization: one category by Dawid-Skene (majority vote while none of the task's workers
  has history); with ``allow_multiple``, per category (multiselect.py).
- transcription: each field by text agreement, rows matched by content (text.py).
- phonecall: the outcome by Dawid-Skene; the fields by text agreement among the answers that
  gave that outcome (a call nobody picked up has blank fields, which must not outvote the
  fields of the calls that got through).
- comparison: the choice by Dawid-Skene, the fields by text agreement among all answers.

``skills`` may be any ``Skills``; when it also has matrices (``SkillModel``) single choices use
them, otherwise every worker counts as an unknown one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from taskforce.quality import dawid_skene as ds
from taskforce.quality.multiselect import combine_sets
from taskforce.quality.skills import ChoiceSkills, likelihood_row
from taskforce.quality.text import combine_fields, combine_rows, combine_values, normalise
from taskforce.task_types.answers import Answer, Combined, Skills

#: The outcomes of a phone call, as phonecall.py validates them.
PHONECALL_OUTCOMES = ("no_pickup", "hung_up", "success")


def _weights(answers: Sequence[Answer], skills: Skills | None, task_type: str) -> list[float]:
    if skills is None:
        return [a.weight for a in answers]
    return [skills.weight(a.worker_id, task_type) for a in answers]


def posterior(rows: Sequence[Sequence[float]], prior: Sequence[float]) -> list[float]:
    """One task's posterior from each answer's likelihood row: ``dawid_skene.posterior`` in plain
    Python (the same sums; numpy's per-call overhead is most of the cost at this size)."""
    loglik = [math.log(max(p, ds.EPS)) for p in prior]
    for row in rows:
        for c, p in enumerate(row):
            loglik[c] += math.log(max(p, ds.EPS))
    top = max(loglik)
    weights = [math.exp(x - top) for x in loglik]
    total = sum(weights)
    return [w / total for w in weights]


def combine_choice(options: Sequence[str], chosen: Sequence[str], weights: Sequence[float],
                   workers: Sequence[int | None], skills: Skills | None,
                   task_type: str) -> tuple[str, float, str]:
    """One single-choice question → (label, confidence, method).

    With history for at least one of the workers: Dawid-Skene, the posterior from each worker's
    stored matrix (an unknown worker gets the prior's uniform-plus-diagonal one). Otherwise the
    (weighted) majority, ties to the most skilled worker then the earliest answer; its confidence is
    the posterior under the prior worker model, so it can be compared with ``min_confidence``."""
    options = list(options)
    labels = [options.index(c) for c in chosen]
    has_matrices = all(hasattr(skills, m) for m in ("has_history", "likelihood", "prior"))
    if skills is not None and has_matrices and any(
            skills.has_history(w, task_type) for w in workers):  # type: ignore[attr-defined]
        model: ChoiceSkills = skills  # type: ignore[assignment]
        rows = [model.likelihood(w, task_type, options, label)
                for w, label in zip(workers, labels, strict=True)]
        post = posterior(rows, model.prior(task_type, options))
        best = max(range(len(options)), key=post.__getitem__)
        return options[best], post[best], "dawid_skene"
    votes = [0.0] * len(options)
    for label, weight in zip(labels, weights, strict=True):
        votes[label] += weight
    top = max(range(len(labels)), key=lambda i: (weights[i], -i))
    first: dict[int, int] = {}
    for i, label in enumerate(labels):
        first.setdefault(label, i)
    best = max(first, key=lambda c: (votes[c], c == labels[top], -first[c]))
    post = posterior([likelihood_row(None, options, label) for label in labels],
                     [1 / len(options)] * len(options))
    return options[best], post[best], "majority"


def _share(values: Sequence[str], value: str) -> float:
    return sum(1 for v in values if v == value) / len(values)


def _ids(params: Mapping[str, Any], chosen: str | list[str]) -> dict[str, Any]:
    response: dict[str, Any] = {"category": chosen}
    ids = {category: cid for cid, category in (params.get("category_ids") or {}).items()}
    if ids:
        if isinstance(chosen, list):
            response["category_id"] = [ids[c] for c in chosen if c in ids]
        elif chosen in ids:
            response["category_id"] = ids[chosen]
    return response


def _check(answers: Sequence[Answer]) -> None:
    if not answers:
        raise ValueError("combine needs at least one answer")


def combine_categorization(params: Mapping[str, Any], answers: Sequence[Answer],
                           skills: Skills | None = None) -> Combined:
    _check(answers)
    weights = _weights(answers, skills, "categorization")
    categories = list(params["categories"])
    if params.get("allow_multiple"):
        picked = [list(a.response["category"]) for a in answers]
        result = combine_sets(categories, picked, weights)
        agreement = {f"category[{c}]": v for c, v in result.agreement.items()}
        target = set(result.chosen)
        agreement["category"] = sum(1 for p in picked if set(p) == target) / len(picked)
        return Combined(response=_ids(params, result.chosen), confidence=result.confidence,
                        method="per_category", agreement=agreement, weights=tuple(weights))
    chosen = [a.response["category"] for a in answers]
    label, confidence, method = combine_choice(categories, chosen, weights,
                                               [a.worker_id for a in answers], skills, "categorization")
    return Combined(response=_ids(params, label), confidence=confidence, method=method,
                    agreement={"category": _share(chosen, label)}, weights=tuple(weights))


def _fields_part(params: Mapping[str, Any], responses: Sequence[Mapping[str, Any]],
                 weights: Sequence[float]) -> tuple[dict[str, str], dict[str, float]]:
    keys = list(params.get("fields") or {})
    values, agreement = combine_fields([r.get("fields") or {} for r in responses], weights, keys)
    return values, {f"fields[{k}]": v for k, v in agreement.items()}


def combine_transcription(params: Mapping[str, Any], answers: Sequence[Answer],
                          skills: Skills | None = None) -> Combined:
    _check(answers)
    weights = _weights(answers, skills, "transcription")
    responses = [a.response for a in answers]
    fields, agreement = _fields_part(params, responses, weights)
    rows: list[dict[str, str]] = []
    from taskforce.task_types.transcription import row_fields_of  # the type imports this module

    row_keys = list(row_fields_of(params))
    if row_keys:
        rows, agreement["rows"] = combine_rows([r.get("rows") or [] for r in responses], weights, row_keys)
    confidence = min(agreement.values()) if agreement else 1.0
    return Combined(response={"fields": fields, "rows": rows}, confidence=confidence,
                    method="text_agreement", agreement=agreement, weights=tuple(weights))


def combine_phonecall(params: Mapping[str, Any], answers: Sequence[Answer],
                      skills: Skills | None = None) -> Combined:
    _check(answers)
    weights = _weights(answers, skills, "phonecall")
    outcomes = [a.response["outcome"] for a in answers]
    from taskforce.task_types.phonecall import outcomes_of  # the type imports this module

    outcome, confidence, method = combine_choice(outcomes_of(params), outcomes, weights,
                                                 [a.worker_id for a in answers], skills, "phonecall")
    agreement = {"outcome": _share(outcomes, outcome)}
    same = [i for i, o in enumerate(outcomes) if o == outcome] or list(range(len(answers)))
    fields, field_agreement = _fields_part(params, [answers[i].response for i in same],
                                           [weights[i] for i in same])
    if len(same) == 1 < len(answers):
        # Fields resting on one call are uncorroborated, not agreed: 1/n, as if all disagreed.
        field_agreement = {key: 1 / len(answers) for key in field_agreement}
    agreement.update(field_agreement)
    if field_agreement:
        confidence = min(confidence, *field_agreement.values())
        method += "+text_agreement"
    return Combined(response={"outcome": outcome, "fields": fields}, confidence=confidence,
                    method=method, agreement=agreement, weights=tuple(weights))


def combine_comparison(params: Mapping[str, Any], answers: Sequence[Answer],
                       skills: Skills | None = None) -> Combined:
    _check(answers)
    weights = _weights(answers, skills, "comparison")
    response: dict[str, Any] = {}
    agreement: dict[str, float] = {}
    confidences: list[float] = []
    methods: list[str] = []
    if params.get("choices"):
        chosen = [a.response["choice"] for a in answers]
        choice, confidence, method = combine_choice(params["choices"], chosen, weights,
                                                    [a.worker_id for a in answers], skills, "comparison")
        response["choice"] = choice
        agreement["choice"] = _share(chosen, choice)
        confidences.append(confidence)
        methods.append(method)
    if params.get("fields"):
        response["fields"], field_agreement = _fields_part(params, [a.response for a in answers], weights)
        agreement.update(field_agreement)
        confidences.extend(field_agreement.values())
        methods.append("text_agreement")
    return Combined(response=response, confidence=min(confidences) if confidences else 1.0,
                    method="+".join(methods), agreement=agreement, weights=tuple(weights))


def _part_scores(given: Any, final: Any) -> list[float]:
    """How far one answer's value matches the combined one, per part: text by normalised
    equality, an object per key, rows as one part (the same rows in any order), a list of
    categories by overlap (Jaccard)."""
    if isinstance(final, Mapping):
        given = given if isinstance(given, Mapping) else {}
        return [score for key in final for score in _part_scores(given.get(key, ""), final[key])]
    if isinstance(final, list) and all(isinstance(x, Mapping) for x in final) and (
            final or (isinstance(given, list) and given and isinstance(given[0], Mapping))):
        def rows(value: Any) -> list[tuple[tuple[str, str], ...]]:
            return sorted(tuple((k, normalise(str(v))) for k, v in sorted(r.items()))
                          for r in (value if isinstance(value, list) else []))
        return [1.0 if rows(given) == rows(final) else 0.0]
    if isinstance(final, list):
        a = set(given) if isinstance(given, list) else {given}
        b = set(final)
        return [len(a & b) / len(a | b) if a | b else 1.0]
    return [1.0 if normalise(str(given)) == normalise(str(final)) else 0.0]


def answer_agreement(combined: Combined, answers: Sequence[Answer]) -> list[float]:
    """Each answer's agreement (0–1) with the combined response: the mean over its parts
    (``category_id`` left out, it follows ``category``). What ``SkillModel.record`` learns from
    when a task completes."""
    final = {k: v for k, v in combined.response.items() if k != "category_id"}
    out = []
    for answer in answers:
        scores = _part_scores({k: v for k, v in answer.response.items() if k != "category_id"}, final)
        out.append(sum(scores) / len(scores) if scores else 1.0)
    return out


#: Task type name → its combine hook, for the lead to wire into the types.
COMBINERS = {
    "categorization": combine_categorization,
    "transcription": combine_transcription,
    "phonecall": combine_phonecall,
    "comparison": combine_comparison,
}


def quality_object(combined: Combined, answers: Sequence[Answer]) -> dict[str, Any]:
    """The task object's ``quality``: answers used, confidence, method, per-field agreement."""
    return {
        "answers": len(answers),
        "confidence": round(combined.confidence, 4),
        "method": combined.method,
        "agreement": {key: round(value, 4) for key, value in combined.agreement.items()},
    }


__all__ = ["COMBINERS", "answer_agreement", "combine_categorization", "combine_choice", "combine_comparison",
           "combine_phonecall", "combine_transcription", "combine_values", "quality_object"]
