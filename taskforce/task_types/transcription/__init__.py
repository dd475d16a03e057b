"""transcription: a worker copies named fields, and optionally rows, out of an attachment.

The rows' fields come as ``row_fields`` (the seed's name) or ``repeatable_fields`` (its later
name, sent by scaleapi 0.1.10); one or the other, never both. The task's ``params`` keep the name
the customer sent, so it answers with what was sent, and everything here reads the rows' fields
through ``row_fields_of``, the one canonical view. The response's rows are ``rows`` either way.

Form: ``field-<i>`` per field; ``row-<r>-<c>`` per cell of the rows table (added in the page)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ConfigDict, Field, field_validator, model_validator

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
from taskforce.task_types.fields import MAX_ROWS, check_rows, check_values


class TranscriptionParams(CreateParams):
    # /openapi.json says it too: a client validating before it sends is not told both will do.
    model_config = ConfigDict(json_schema_extra={"not": {"required": ["row_fields", "repeatable_fields"]}})

    PARAMS: ClassVar[tuple[str, ...]] = (
        "attachment_type", "attachment", "fields", "row_fields", "repeatable_fields",
    )

    attachment_type: AttachmentType
    attachment: NonEmptyStr
    fields: FieldMap = Field(description="Keys to return, with the description shown to workers.",
                             json_schema_extra={"minProperties": 1})
    row_fields: FieldMap | None = Field(None, description="Fields transcribed once per row.")
    repeatable_fields: FieldMap | None = Field(
        None, description="The later name of row_fields (scaleapi 0.1.10 sends it); give one of the two."
    )

    @field_validator("fields")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("must name at least one field")
        return value

    @model_validator(mode="after")
    def _attachment(self) -> TranscriptionParams:
        check_attachment("attachment", self.attachment_type, self.attachment)
        if self.row_fields is not None and self.repeatable_fields is not None:
            raise ValueError("repeatable_fields is the later name of row_fields: give one of the two, not both")
        return self


def row_fields_of(params: Mapping[str, Any]) -> dict[str, str]:
    """The rows' fields, whichever name the customer gave them ({} when the task has no rows)."""
    spec = params.get("row_fields")
    if spec is None:
        spec = params.get("repeatable_fields")
    return dict(spec or {})


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"fields": {…}, "rows": [{…}, …]}``: every field filled in; rows only when the task has
    ``row_fields``, at most ``MAX_ROWS`` of them (the seed's limit)."""
    fields = check_values("fields", params["fields"], answer.get("fields"), required=True)
    rows = check_rows("rows", row_fields_of(params), answer.get("rows"))
    return {"fields": fields, "rows": rows}


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    seed = hashlib.sha256(task_id.encode()).hexdigest()
    fields = {key: f"{key} {seed[:6]}" for key in params["fields"]}
    row_fields = row_fields_of(params)
    count = int(seed[6], 16) % 3 + 1 if row_fields else 0
    rows = [{key: f"{key} {i + 1}" for key in row_fields} for i in range(count)]
    return {"fields": fields, "rows": rows}


def answer_from_form(params: Mapping[str, Any], form: forms.FormLike) -> dict[str, Any]:
    answer: dict[str, Any] = {"fields": forms.field_values(form, list(params["fields"]))}
    row_keys = list(row_fields_of(params))
    if row_keys:
        answer["rows"] = forms.rows(form, row_keys)
    return answer


def form_values(params: Mapping[str, Any], form: forms.FormLike | None) -> dict[str, Any]:
    return {"fields": forms.typed_fields(form), "rows": forms.typed_rows(form) or [{}],
            "row_keys": list(row_fields_of(params).items()), "max_rows": MAX_ROWS}



TASK_TYPE = TaskType(
    name="transcription",
    endpoints=("transcription",),
    params_model=TranscriptionParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    answer_from_form=answer_from_form,
    form_values=form_values,
    templates=Path(__file__).parent,
    summary="A worker transcribes fields (and rows) from the attachment.",
    combine=quality_combiner("transcription"),
)
