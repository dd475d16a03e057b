"""Checking free-text ``fields`` answers, shared by the types that ask for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskforce.errors import InvalidParameter

#: The seed limits a transcription to 10 rows.
MAX_ROWS = 10
#: Longest answer to one field; far more than any form needs, small enough to keep rows sane.
MAX_VALUE_CHARS = 10_000


def check_values(param: str, spec: Mapping[str, str], given: Any, *, required: bool) -> dict[str, str]:
    """Every key of ``spec`` answered with a string, extras refused; a key left out entirely is
    refused (a form that lost an input must not pass as "left blank"). With ``required`` a blank
    answer is refused too. Returns the answers in the customer's key order."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InvalidParameter(param, "must be an object")
    extra = [key for key in given if key not in spec]
    if extra:
        raise InvalidParameter(f"{param}[{extra[0]}]", "is not one of the task's fields")
    out: dict[str, str] = {}
    for key in spec:
        if key not in given:
            raise InvalidParameter(f"{param}[{key}]", "is missing")
        value = given[key]
        if not isinstance(value, str):
            raise InvalidParameter(f"{param}[{key}]", "must be a string")
        if "\x00" in value or len(value) > MAX_VALUE_CHARS:
            raise InvalidParameter(f"{param}[{key}]", f"must be text of at most {MAX_VALUE_CHARS} characters")
        if required and not value.strip():
            raise InvalidParameter(f"{param}[{key}]", "is required")
        out[key] = value
    return out


def check_rows(param: str, spec: Mapping[str, str], given: Any) -> list[dict[str, str]]:
    """At most ``MAX_ROWS`` rows, each answering every key of ``spec``; a row may leave some
    cells blank but not all of them."""
    if given is None:
        given = []
    if not isinstance(given, list):
        raise InvalidParameter(param, "must be an array")
    if given and not spec:
        raise InvalidParameter(param, "this task has no row fields")
    if len(given) > MAX_ROWS:
        raise InvalidParameter(param, f"at most {MAX_ROWS} rows (this answer has {len(given)})")
    rows = []
    for i, row in enumerate(given):
        values = check_values(f"{param}[{i}]", spec, row, required=False)
        if not any(v.strip() for v in values.values()):
            raise InvalidParameter(f"{param}[{i}]", "is empty; fill it in or remove it")
        rows.append(values)
    return rows
