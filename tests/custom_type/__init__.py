"""A task type that lives only in the test suite: a worker rates a text from 1 to ``scale`` and
may add a note. It is registered by ``registered_rating`` for the tests that use it and exists
nowhere else; that the API, the worker page, the dashboard and /openapi.json all serve it proves a
type is one module (this folder: the Python, ``form.html``, ``response.html`` and the script and
stylesheet the pages load for it)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from taskforce.errors import InvalidParameter
from taskforce.task_types import REGISTRY, forms
from taskforce.task_types.answers import Answer, Combined
from taskforce.task_types.base import CreateParams, NonEmptyStr, TaskType

NAME = "rating"


class RatingParams(CreateParams):
    PARAMS: ClassVar[tuple[str, ...]] = ("text", "scale")

    text: NonEmptyStr = Field(description="What the worker rates.")
    # Lax int: a url-encoded form sends "4".
    scale: int = Field(5, ge=2, le=10, description="Ratings run from 1 to this.")


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    rating = answer.get("rating")
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= params["scale"]:
        raise InvalidParameter("rating", f"choose a rating from 1 to {params['scale']}")
    note = answer.get("note", "")
    if not isinstance(note, str) or len(note) > 500 or "\x00" in note:
        raise InvalidParameter("note", "must be text of at most 500 characters, without NUL")
    return {"rating": rating, "note": note}


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    n = int(hashlib.sha256(task_id.encode()).hexdigest(), 16)
    return {"rating": n % params["scale"] + 1, "note": "simulated"}


def answer_from_form(params: Mapping[str, Any], form: forms.FormLike) -> dict[str, Any]:
    # The radio's value is the position of the rating, as the other types' choices are.
    ratings = list(range(1, params["scale"] + 1))
    return {"rating": forms.one_pick(ratings, form, "rating"), "note": forms.text(form, "note")}


def form_values(params: Mapping[str, Any], form: forms.FormLike | None) -> dict[str, Any]:
    return {"ratings": list(range(1, params["scale"] + 1)),
            "rating": forms.checked(form, "rating"), "note": forms.text(form, "note") if form else ""}


def combine(params: Mapping[str, Any], answers: list[Answer], skills: Any = None) -> Combined:
    """The mean rating, rounded: a type may bring its own combining."""
    mean = sum(a.response["rating"] for a in answers) / len(answers)
    return Combined(response={"rating": round(mean), "note": ""}, confidence=1.0, method="mean")


RATING = TaskType(
    name=NAME,
    endpoints=("rating", "rate"),
    params_model=RatingParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    answer_from_form=answer_from_form,
    form_values=form_values,
    combine=combine,
    templates=Path(__file__).parent,
    scripts=("rating.js",),
    stylesheets=("rating.css",),
    summary="A worker rates a text.",
)


def registered_rating() -> Iterator[TaskType]:
    """For a fixture: the type is registered for one test and gone after it."""
    with REGISTRY.registered(RATING) as task_type:
        yield task_type
