"""comparison: a worker looks at two or more attachments and picks a choice and/or fills fields.

Form: a radio ``choice`` per choice, valued by its position; ``field-<i>`` per field."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from taskforce.errors import InvalidParameter
from taskforce.task_types import forms
from taskforce.task_types.answers import quality_combiner
from taskforce.task_types.base import (
    AttachmentType,
    CreateParams,
    FieldMap,
    NonEmptyStr,
    TaskType,
    check_attachment,
)
from taskforce.task_types.fields import check_values


class ComparisonParams(CreateParams):
    PARAMS: ClassVar[tuple[str, ...]] = ("attachment_type", "attachments", "choices", "fields")

    attachment_type: AttachmentType
    attachments: list[NonEmptyStr] = Field(description="At least two attachments to compare.",
                                           json_schema_extra={"minItems": 2})
    choices: list[NonEmptyStr] | None = Field(None, description="Choices offered to the worker.",
                                              json_schema_extra={"minItems": 1, "uniqueItems": True})
    fields: FieldMap | None = Field(None, description="Free-text fields to fill.")

    @field_validator("attachments")
    @classmethod
    def _two_or_more(cls, value: list[str]) -> list[str]:
        if len(value) < 2:
            raise ValueError("must hold at least two attachments")
        return value

    @field_validator("choices")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("must not be empty")
            if len(set(value)) != len(value):
                raise ValueError("must not contain duplicates")
        return value

    @model_validator(mode="after")
    def _checks(self) -> ComparisonParams:
        for i, attachment in enumerate(self.attachments):
            check_attachment(f"attachments[{i}]", self.attachment_type, attachment)
        if not self.choices and not self.fields:
            raise ValueError("choices must be given when fields is not (at least one of the two)")
        return self


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"choice": "…", "fields": {…}}``, each key present only when the task asks for it."""
    response: dict[str, Any] = {}
    choices = params.get("choices")
    if choices:
        choice = answer.get("choice")
        if not isinstance(choice, str) or not choice:
            raise InvalidParameter("choice", "choose one of the choices")
        if choice not in choices:
            raise InvalidParameter("choice", "must be one of the task's choices")
        response["choice"] = choice
    if params.get("fields"):
        response["fields"] = check_values("fields", params["fields"], answer.get("fields"), required=True)
    return response


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    seed = hashlib.sha256(task_id.encode()).hexdigest()
    response: dict[str, Any] = {}
    if params.get("choices"):
        response["choice"] = params["choices"][int(seed, 16) % len(params["choices"])]
    if params.get("fields"):
        response["fields"] = {key: f"{key} {seed[:6]}" for key in params["fields"]}
    return response


def answer_from_form(params: Mapping[str, Any], form: forms.FormLike) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    if params.get("choices"):
        raw = form.get("choice")
        answer["choice"] = forms.pick(list(params["choices"]), raw) if isinstance(raw, str) else ""
    if params.get("fields"):
        answer["fields"] = forms.field_values(form, list(params["fields"]))
    return answer


def form_values(params: Mapping[str, Any], form: forms.FormLike | None) -> dict[str, Any]:
    return {"choice": forms.text(form, "choice") if form is not None else "",
            "fields": forms.typed_fields(form)}



TASK_TYPE = TaskType(
    name="comparison",
    endpoints=("comparison",),
    params_model=ComparisonParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    answer_from_form=answer_from_form,
    form_values=form_values,
    templates=Path(__file__).parent,
    summary="A worker compares the attachments.",
    combine=quality_combiner("comparison"),
)
