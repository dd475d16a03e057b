"""categorization: a worker picks one category (or several, with ``allow_multiple``).

Form: one radio (or checkbox) ``category`` per category, valued by its position."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, StrictBool, field_validator, model_validator

from taskforce.errors import InvalidParameter
from taskforce.task_types import forms
from taskforce.task_types.answers import quality_combiner
from taskforce.task_types.base import (
    AttachmentType,
    CreateParams,
    NonEmptyStr,
    Str,
    TaskType,
    check_attachment,
)


class CategorizationParams(CreateParams):
    PARAMS: ClassVar[tuple[str, ...]] = (
        "attachment_type", "attachment", "categories", "category_ids", "allow_multiple",
    )

    attachment_type: AttachmentType = Field(description="What the attachment is.")
    attachment: NonEmptyStr = Field(description="Plaintext, or an http(s) URL to the attachment.")
    categories: list[NonEmptyStr] = Field(min_length=1, description="The categories to choose from.",
                                          json_schema_extra={"uniqueItems": True})
    category_ids: dict[NonEmptyStr, Str] | None = Field(
        None, description="Optional ids: keys are ids, values are categories."
    )
    allow_multiple: StrictBool | None = Field(None, description="Allow several categories.")

    @field_validator("categories")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("must not contain duplicates")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> CategorizationParams:
        check_attachment("attachment", self.attachment_type, self.attachment)
        if self.category_ids is not None:
            known = set(self.categories)
            seen: set[str] = set()
            for cid, category in self.category_ids.items():
                if category not in known:
                    raise ValueError(f"category_ids[{cid}] {category!r} is not one of categories")
                if category in seen:
                    raise ValueError(f"category_ids maps two ids to the category {category!r}")
                seen.add(category)
        return self


def _ids_by_category(params: Mapping[str, Any]) -> dict[str, str]:
    return {category: cid for cid, category in (params.get("category_ids") or {}).items()}


def _with_ids(params: Mapping[str, Any], chosen: str | list[str]) -> dict[str, Any]:
    response: dict[str, Any] = {"category": chosen}
    ids = _ids_by_category(params)
    if ids:
        if isinstance(chosen, list):
            response["category_id"] = [ids[c] for c in chosen if c in ids]
        elif chosen in ids:
            response["category_id"] = ids[chosen]
    return response


def validate_response(params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    categories = list(params["categories"])
    chosen = answer.get("category")
    if params.get("allow_multiple"):
        if isinstance(chosen, str):
            chosen = [chosen]
        if not isinstance(chosen, list) or not chosen:
            raise InvalidParameter("category", "choose at least one category")
        if any(not isinstance(c, str) or c not in categories for c in chosen):
            raise InvalidParameter("category", "each choice must be one of the task's categories")
        # Keep the customer's order, drop repeats.
        picked = set(chosen)
        return _with_ids(params, [c for c in categories if c in picked])
    if not isinstance(chosen, str) or not chosen:
        raise InvalidParameter("category", "choose a category")
    if chosen not in categories:
        raise InvalidParameter("category", "must be one of the task's categories")
    return _with_ids(params, chosen)


def simulated_response(task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    categories = list(params["categories"])
    n = int(hashlib.sha256(task_id.encode()).hexdigest(), 16)
    if params.get("allow_multiple"):
        picked = [c for i, c in enumerate(categories) if (n >> i) & 1] or categories[:1]
        return _with_ids(params, picked)
    return _with_ids(params, categories[n % len(categories)])


def answer_from_form(params: Mapping[str, Any], form: forms.FormLike) -> dict[str, Any]:
    categories = list(params["categories"])
    if params.get("allow_multiple"):
        return {"category": forms.picks(categories, form, "category")}
    return {"category": forms.one_pick(categories, form, "category")}


def form_values(params: Mapping[str, Any], form: forms.FormLike | None) -> dict[str, Any]:
    return {"category": forms.checked(form, "category")}



TASK_TYPE = TaskType(
    name="categorization",
    endpoints=("categorize", "categorization"),
    params_model=CategorizationParams,
    validate_response=validate_response,
    simulated_response=simulated_response,
    answer_from_form=answer_from_form,
    form_values=form_values,
    templates=Path(__file__).parent,
    summary="A worker views the attachment and picks a category.",
    combine=quality_combiner("categorization"),
)
