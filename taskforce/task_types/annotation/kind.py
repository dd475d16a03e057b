"""One annotation type made from its kind of shape: the four types differ only in the shape
they draw, their parameters and their words, so each module names those and this builds the rest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from taskforce.task_types import forms
from taskforce.task_types.annotation import consensus, gold, shapes
from taskforce.task_types.annotation.form import answer_from_form, form_values
from taskforce.task_types.answers import Answer, Combined, Skills
from taskforce.task_types.base import TaskType


def annotation_type(kind: shapes.Kind, *, name: str, params_model: type[BaseModel],
                    summary: str) -> TaskType:
    def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
        return shapes.validate(kind, params, answer)

    def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return shapes.simulate(kind, task_id, params)

    def combine(params: Mapping[str, Any], answers: Sequence[Answer],
                skills: Skills | None = None) -> Combined:
        return consensus.combine(kind, params, answers, skills)

    def gold_matches(params: Mapping[str, Any], expected: Mapping[str, Any],
                     given: Mapping[str, Any]) -> bool:
        return gold.gold_matches(kind, params, expected, given)

    def _form_values(params: Mapping[str, Any], form: forms.FormLike | None) -> dict[str, Any]:
        return form_values(kind, params, form)

    return TaskType(
        name=name,
        endpoints=(name,),
        params_model=params_model,
        validate_response=validate_response,
        simulated_response=simulated_response,
        answer_from_form=answer_from_form,
        form_values=_form_values,
        combine=combine,
        gold_matches=gold_matches,
        # The four annotation types share one form (the drawing tool) and one response view.
        templates=Path(__file__).parent,
        scripts=("annotate.js",),
        stylesheets=("annotate.css",),
        summary=summary,
    )
