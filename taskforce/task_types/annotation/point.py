"""pointannotation: a worker draws a point on every object of the task's labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from taskforce.task_types.annotation import consensus, shapes
from taskforce.task_types.annotation.form import answer_from_form
from taskforce.task_types.annotation.params import PointParams
from taskforce.task_types.answers import Answer, Combined, Skills
from taskforce.task_types.base import TaskType

KIND: shapes.Kind = "point"


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"annotations": [{"label"?, "x", "y"}]}``."""
    return shapes.validate(KIND, params, answer)


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return shapes.simulate(KIND, task_id, params)


def combine(params: Mapping[str, Any], answers: Sequence[Answer], skills: Skills | None = None) -> Combined:
    return consensus.combine(KIND, params, answers, skills)


__all__ = ["KIND", "TASK_TYPE", "answer_from_form", "combine", "simulated_response", "validate_response"]

TASK_TYPE = TaskType(
    name="pointannotation",
    endpoints=("pointannotation",),
    params_model=PointParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    summary="A worker draws a point on every object of the given labels in the image.",
)
