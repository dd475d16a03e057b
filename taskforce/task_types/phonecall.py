"""phonecall: a worker calls a number, notes the outcome and any fields."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar

import phonenumbers
from pydantic import Field, field_validator, model_validator

from taskforce.errors import InvalidParameter
from taskforce.task_types.base import (
    AttachmentType,
    CreateParams,
    FieldMap,
    NonEmptyStr,
    Str,
    TaskType,
    check_attachment,
)
from taskforce.task_types.fields import check_values

OUTCOMES = ("no_pickup", "hung_up", "success")


def parse_phone_number(value: str) -> phonenumbers.PhoneNumber:
    """A number without a country code is read as US, as the seed's example (5055006865) is."""
    region = None if value.strip().startswith("+") else "US"
    return phonenumbers.parse(value, region)


def dialable(value: str) -> str:
    """E.164 form for a ``tel:`` link."""
    return phonenumbers.format_number(parse_phone_number(value), phonenumbers.PhoneNumberFormat.E164)


class PhonecallParams(CreateParams):
    PARAMS: ClassVar[tuple[str, ...]] = (
        "phone_number", "entity_name", "script", "attachment_type", "attachment", "fields",
    )

    phone_number: NonEmptyStr = Field(description="Number to call; +country code, or a US number.")
    entity_name: NonEmptyStr = Field(description="The person or business being called.")
    script: Str | None = Field(None, description="Optional script shown to the worker.")
    attachment_type: AttachmentType | None = None
    attachment: NonEmptyStr | None = None
    fields: FieldMap | None = Field(None, description="Fields to record during the call.")

    @field_validator("phone_number")
    @classmethod
    def _possible(cls, value: str) -> str:
        try:
            number = parse_phone_number(value)
        except phonenumbers.NumberParseException:
            raise ValueError("is not a phone number") from None
        if not phonenumbers.is_possible_number(number):
            raise ValueError("is not a possible phone number")
        return value  # returned as the customer sent it

    @model_validator(mode="after")
    def _attachment(self) -> PhonecallParams:
        if self.attachment is not None:
            check_attachment("attachment", self.attachment_type or "website", self.attachment)
        return self


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"outcome": "…", "fields": {…}}``. Fields may stay blank: a call nobody picked up has
    nothing to record, and a successful one may not yield every answer."""
    outcome = answer.get("outcome")
    if not isinstance(outcome, str) or not outcome:
        raise InvalidParameter("outcome", "choose how the call went: " + ", ".join(OUTCOMES))
    if outcome not in OUTCOMES:
        raise InvalidParameter("outcome", "must be one of " + ", ".join(OUTCOMES))
    fields = check_values("fields", params.get("fields") or {}, answer.get("fields"), required=False)
    return {"outcome": outcome, "fields": fields}


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    seed = hashlib.sha256(task_id.encode()).hexdigest()
    outcome = OUTCOMES[int(seed, 16) % len(OUTCOMES)]
    fields = {key: f"{key} {seed[:6]}" if outcome == "success" else "" for key in params.get("fields") or {}}
    return {"outcome": outcome, "fields": fields}


TASK_TYPE = TaskType(
    name="phonecall",
    endpoints=("phonecall",),
    params_model=PhonecallParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    summary="A worker phones the number and notes the outcome.",
)
