"""An answer's parameter as the worker's page names it.

``validate_response`` names what is wrong the way the API does, by the customer's keys
(``fields[title]``, ``rows[1][name]``): right for the customer who sent them, meaningless to a
worker, who sees the field's description and never its key. ``answer_label`` turns such a path
into the words on the worker's screen ("Title of the page", "Row 2, Name", "Category");
``TaskType.worker_message`` builds the page's message from it. A type with other inputs passes
its own ``answer_label`` (returning None for a path it does not know falls back to this one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: The worker's words for an answer's top-level parts, as the types' forms show them.
TOP_LEVEL = {
    "category": "Category",
    "choice": "Choice",
    "outcome": "How the call went",
    "fields": "Fields",
    "rows": "Rows",
    "annotations": "Your drawing",
    "image": "The image",
    "image_width": "The image",
    "image_height": "The image",
}
#: A shape's parts, as the drawing tool shows them.
_SHAPE_PARTS = {"label": "label", "vertices": "points", "width": "width", "height": "height",
                "left": "position", "top": "position", "x": "position", "y": "position"}
_ROW = re.compile(r"rows\[([0-9]{1,4})\](?:\[(.*)\])?", re.S)
_SHAPE = re.compile(r"annotations\[([0-9]{1,4})\](?:\[([a-z_]+)\])?.*", re.S)
#: A description longer than this is cut in the message (the input shows it whole).
_LONGEST = 80


def _described(spec: Any, key: str) -> str:
    """The description the page shows beside this key's input (the key when there is none)."""
    description = spec.get(key) if isinstance(spec, Mapping) else None
    words = description.strip() if isinstance(description, str) and description.strip() else key
    return words if len(words) <= _LONGEST else words[: _LONGEST - 1] + "…"


def _row_spec(params: Mapping[str, Any]) -> Any:
    spec = params.get("row_fields")
    return spec if spec is not None else params.get("repeatable_fields")


def answer_label(params: Mapping[str, Any], param: str) -> str | None:
    """The on-screen name of ``param`` (a path ``validate_response`` raised with), or None."""
    if param.startswith("fields[") and param.endswith("]"):
        return _described(params.get("fields"), param[len("fields["):-1])
    if match := _ROW.fullmatch(param):
        row = f"Row {int(match[1]) + 1}"
        return f"{row}, {_described(_row_spec(params), match[2])}" if match[2] is not None else row
    if match := _SHAPE.fullmatch(param):
        shape = f"Shape {int(match[1]) + 1}"
        part = _SHAPE_PARTS.get(match[2] or "")
        return f"{shape}, {part}" if part else shape
    return TOP_LEVEL.get(param)


def worker_message(label: str, problem: str) -> str:
    """The message for the worker's page. An empty answer says what to do about it (the
    browser's own check stops most, but not a form sent without it)."""
    if problem == "is required":
        return f"{label} is empty: fill it in before you submit, or skip the task."
    if problem == "is missing":
        return f"{label} was not sent with your answer: reload the page and answer again."
    return f"{label}: {problem}"
