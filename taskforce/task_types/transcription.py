"""transcription: a worker copies named fields, and optionally rows, out of an attachment."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from taskforce.task_types.base import (
    AttachmentType,
    CreateParams,
    FieldMap,
    NonEmptyStr,
    TaskType,
    check_attachment,
)
from taskforce.task_types.fields import check_rows, check_values


class TranscriptionParams(CreateParams):
    PARAMS: ClassVar[tuple[str, ...]] = ("attachment_type", "attachment", "fields", "row_fields")

    attachment_type: AttachmentType
    attachment: NonEmptyStr
    fields: FieldMap = Field(description="Keys to return, with the description shown to workers.",
                             json_schema_extra={"minProperties": 1})
    row_fields: FieldMap | None = Field(None, description="Fields transcribed once per row.")

    @field_validator("fields")
    @classmethod
    def _not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("must name at least one field")
        return value

    @model_validator(mode="after")
    def _attachment(self) -> TranscriptionParams:
        check_attachment("attachment", self.attachment_type, self.attachment)
        return self


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"fields": {…}, "rows": [{…}, …]}``: every field filled in; rows only when the task has
    ``row_fields``, at most ``MAX_ROWS`` of them (the seed's limit)."""
    fields = check_values("fields", params["fields"], answer.get("fields"), required=True)
    rows = check_rows("rows", params.get("row_fields") or {}, answer.get("rows"))
    return {"fields": fields, "rows": rows}


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    seed = hashlib.sha256(task_id.encode()).hexdigest()
    fields = {key: f"{key} {seed[:6]}" for key in params["fields"]}
    row_fields = params.get("row_fields") or {}
    count = int(seed[6], 16) % 3 + 1 if row_fields else 0
    rows = [{key: f"{key} {i + 1}" for key in row_fields} for i in range(count)]
    return {"fields": fields, "rows": rows}


TASK_TYPE = TaskType(
    name="transcription",
    endpoints=("transcription",),
    params_model=TranscriptionParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    summary="A worker transcribes fields (and rows) from the attachment.",
)
