"""The drawing tool's form, turned into an answer.

The tool (annotate.js, beside this module) writes the shapes as JSON into one hidden input,
``annotations``, and the image's natural size, as the browser measured it, into
``image_width`` and ``image_height``. No customer text becomes an input's name. Anything
malformed becomes a value ``shapes.validate`` refuses with the parameter named.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from taskforce.task_types.annotation.shapes import Kind, least_vertices
from taskforce.task_types.forms import FormLike

#: A drawing of MAX_SHAPES boxes is ~100 KB; anything far larger is not from the tool.
MAX_JSON_BYTES = 2_000_000


def _size(raw: Any) -> Any:
    if not isinstance(raw, str) or not raw:
        return None
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return int(text)
    return text  # refused by the check as "must be a number"


def answer_from_form(params: Mapping[str, Any], form: FormLike) -> dict[str, Any]:
    raw = form.get("annotations")
    shapes: Any = None
    if isinstance(raw, str) and raw.strip():
        if len(raw) > MAX_JSON_BYTES:
            shapes = "too large"
        else:
            try:
                shapes = orjson.loads(raw)
            except orjson.JSONDecodeError:
                shapes = "not JSON"
    answer: dict[str, Any] = {"annotations": shapes}
    width, height = _size(form.get("image_width")), _size(form.get("image_height"))
    if width is None and height is None:
        # The tool writes the size once the image has loaded: without it nothing was drawn on
        # the image, and "nothing drawn" must not pass for "nothing there".
        answer["image_loaded"] = False
    else:
        answer["image_width"], answer["image_height"] = width, height
    return answer


def form_values(kind: Kind, params: Mapping[str, Any], form: FormLike | None) -> dict[str, Any]:
    """The tool's kind and limits, and a refused answer's shapes to draw again."""
    raw = form.get("annotations") if form is not None else None
    return {
        "kind": kind,
        "annotations": raw if isinstance(raw, str) and len(raw) <= MAX_JSON_BYTES else "[]",
        "min_vertices": least_vertices(kind, params),
        "max_vertices": params.get("max_vertices") or 0,
    }
