"""annotation: a worker draws a box around every object of the task's labels on the image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from taskforce.task_types import forms
from taskforce.task_types.annotation import consensus, shapes
from taskforce.task_types.annotation.form import answer_from_form, form_values
from taskforce.task_types.annotation.params import BoxParams
from taskforce.task_types.answers import Answer, Combined, Skills
from taskforce.task_types.base import TaskType

KIND: shapes.Kind = "box"


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"annotations": [{"left", "top", "width", "height", "label"?}]}``."""
    return shapes.validate(KIND, params, answer)


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return shapes.simulate(KIND, task_id, params)


def combine(params: Mapping[str, Any], answers: Sequence[Answer], skills: Skills | None = None) -> Combined:
    return consensus.combine(KIND, params, answers, skills)


def _form_values(params: Mapping[str, Any], form: forms.FormLike | None) -> dict[str, Any]:
    return form_values(KIND, params, form)


TASK_TYPE = TaskType(
    name="annotation",
    endpoints=("annotation",),
    params_model=BoxParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    answer_from_form=answer_from_form,
    form_values=_form_values,
    combine=combine,
    # The four annotation types share one form (the drawing tool) and one response view.
    templates=Path(__file__).parent,
    scripts=("annotate.js",),
    stylesheets=("annotate.css",),
    summary="A worker draws a box around every object of the given labels in the image.",
)
