"""phonecall: a worker calls a number, notes the outcome and any fields.

The outcome is one of the task's ``choices`` when it has them (scaleapi 0.1.10 sends them), else
one of ``OUTCOMES``. Form: a radio ``outcome`` (an ``OUTCOMES`` value, or a choice's position);
``field-<i>`` per field."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import phonenumbers
from pydantic import Field, field_validator, model_validator

from taskforce.errors import InvalidParameter
from taskforce.task_types import forms
from taskforce.task_types.answers import quality_combiner
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
#: How the worker's form words them, in the order shown (keys 1–3).
OUTCOME_LABELS = {"no_pickup": "No pickup", "hung_up": "Hung up before the task was done",
                  "success": "Success — the call went through"}


def parse_phone_number(value: str) -> phonenumbers.PhoneNumber:
    """A number without a country code is read as US, as the seed's example (5055006865) is."""
    region = None if value.strip().startswith("+") else "US"
    return phonenumbers.parse(value, region)


def dialable(value: str) -> str:
    """E.164 form for a ``tel:`` link."""
    return phonenumbers.format_number(parse_phone_number(value), phonenumbers.PhoneNumberFormat.E164)


class PhonecallParams(CreateParams):
    PARAMS: ClassVar[tuple[str, ...]] = (
        "phone_number", "entity_name", "script", "attachment_type", "attachment", "fields", "choices",
    )

    phone_number: NonEmptyStr = Field(description="Number to call; +country code, or a US number.")
    entity_name: NonEmptyStr = Field(description="The person or business being called.")
    script: Str | None = Field(None, description="Optional script shown to the worker.")
    attachment_type: AttachmentType | None = None
    attachment: NonEmptyStr | None = None
    fields: FieldMap | None = Field(None, description="Fields to record during the call.")
    choices: list[NonEmptyStr] | None = Field(
        None, description="Outcomes the caller picks from; the response's outcome is one of them "
                          "(default: no_pickup, hung_up, success).",
        json_schema_extra={"minItems": 1, "uniqueItems": True},
    )

    @field_validator("choices")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("must not be empty")
            if len(set(value)) != len(value):
                raise ValueError("must not contain duplicates")
        return value

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


def outcomes_of(params: Mapping[str, Any]) -> list[str]:
    """What the caller may answer: the task's ``choices``, else the standard ``OUTCOMES``."""
    return list(params.get("choices") or OUTCOMES)


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"outcome": "…", "fields": {…}}``. Fields may stay blank: a call nobody picked up has
    nothing to record, and a successful one may not yield every answer."""
    outcomes = outcomes_of(params)
    outcome = answer.get("outcome")
    if not isinstance(outcome, str) or not outcome:
        raise InvalidParameter("outcome", "choose how the call went: " + ", ".join(outcomes))
    if outcome not in outcomes:
        raise InvalidParameter("outcome", "must be one of " + ", ".join(outcomes))
    fields = check_values("fields", params.get("fields") or {}, answer.get("fields"), required=False)
    return {"outcome": outcome, "fields": fields}


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    seed = hashlib.sha256(task_id.encode()).hexdigest()
    outcomes = outcomes_of(params)
    outcome = outcomes[int(seed, 16) % len(outcomes)]
    # With the standard outcomes only a call that went through yields answers; with the
    # customer's choices we cannot tell, so every field is answered.
    reached = outcome == "success" or bool(params.get("choices"))
    fields = {key: f"{key} {seed[:6]}" if reached else "" for key in params.get("fields") or {}}
    return {"outcome": outcome, "fields": fields}


def answer_from_form(params: Mapping[str, Any], form: forms.FormLike) -> dict[str, Any]:
    # The standard outcomes are sent as themselves; a customer's choices by position, so no
    # customer text is ever a submitted value.
    raw = forms.text(form, "outcome")
    choices = params.get("choices")
    outcome = (forms.pick(list(choices), raw) if raw else "") if choices else raw
    return {"outcome": outcome, "fields": forms.field_values(form, list(params.get("fields") or {}))}


def form_values(params: Mapping[str, Any], form: forms.FormLike | None) -> dict[str, Any]:
    choices = params.get("choices")
    if choices:
        options = [(str(i), choice) for i, choice in enumerate(choices)]
    else:
        options = [(o, OUTCOME_LABELS[o]) for o in OUTCOMES]
    return {"outcome": forms.text(form, "outcome") if form is not None else "",
            "fields": forms.typed_fields(form), "outcomes": options,
            "tel": _tel(params.get("phone_number"))}


def _tel(number: Any) -> str | None:
    """The number for a ``tel:`` link, or None: a stored number that no longer parses is shown,
    not linked."""
    try:
        return dialable(number)
    except Exception:  # noqa: BLE001 - whatever an old row holds
        return None



TASK_TYPE = TaskType(
    name="phonecall",
    endpoints=("phonecall",),
    params_model=PhonecallParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    answer_from_form=answer_from_form,
    form_values=form_values,
    templates=Path(__file__).parent,
    summary="A worker phones the number and notes the outcome.",
    combine=quality_combiner("phonecall"),
)
