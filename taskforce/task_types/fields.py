"""Checking free-text ``fields`` answers, shared by the types that ask for them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskforce.errors import InvalidParameter

#: The seed limits a transcription to 10 rows.
MAX_ROWS = 10
MAX_VALUE_CHARS = 10_000


def check_values(param: str, spec: Mapping[str, str], given: Any, *, required: bool) -> dict[str, str]:
    """Every key of ``spec`` answered with a string (non-empty when ``required``); extras refused."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise InvalidParameter(param, "must be an object")
    extra = set(given) - set(spec)
    if extra:
        raise InvalidParameter(f"{param}[{sorted(extra)[0]}]", "is not one of the task's fields")
    out: dict[str, str] = {}
    for key in spec:
        value = given.get(key, "")
        if not isinstance(value, str):
            raise InvalidParameter(f"{param}[{key}]", "must be a string")
        if "\x00" in value or len(value) > MAX_VALUE_CHARS:
            raise InvalidParameter(f"{param}[{key}]", "is not acceptable text")
        if required and not value.strip():
            raise InvalidParameter(f"{param}[{key}]", "is required")
        out[key] = value
    return out
