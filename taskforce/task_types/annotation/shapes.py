"""A worker's shapes: checking an answer against the task, and the simulated worker's drawing.

An answer is ``{"annotations": [shape, …]}`` and, from the drawing tool, the image's natural
size as the browser measured it (``image_width``, ``image_height``): with it every shape must lie
inside the image. The size only checks the answer; the stored response is Scale's shape alone.
Coordinates are the image's own pixels from its top-left corner, whatever the zoom the worker
drew at; whole numbers are stored as integers.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, Literal

from taskforce.errors import InvalidParameter
from taskforce.task_types.annotation.params import MAX_PIXELS, MAX_VERTICES

Kind = Literal["box", "polygon", "line", "point"]

#: Fewest vertices a polygon or line can have, whatever ``min_vertices`` says.
LEAST_VERTICES = {"polygon": 3, "line": 2}
#: More shapes than this in one answer is not a drawing but a flood.
MAX_SHAPES = 1000
#: The simulated worker cannot see the image (the server never fetches it), so it draws inside
#: the top-left 320×240 pixels: QVGA, smaller than any image worth annotating.
SIMULATED_WIDTH, SIMULATED_HEIGHT = 320, 240


def least_vertices(kind: Kind, params: Mapping[str, Any]) -> int:
    """Fewest vertices per shape: ``min_vertices``, but never fewer than the shape needs."""
    return max(LEAST_VERTICES.get(kind, 1), int(params.get("min_vertices") or 1))


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameter(name, "must be a number")
    if not math.isfinite(value) or abs(value) > MAX_PIXELS:
        raise InvalidParameter(name, "must be a finite number of pixels")
    return int(value) if float(value).is_integer() else float(value)


def image_size(answer: Mapping[str, Any]) -> tuple[float, float] | None:
    """The natural size the browser saw, when the answer says (and says it sensibly)."""
    w, h = answer.get("image_width"), answer.get("image_height")
    if w is None and h is None:
        return None
    w, h = _number("image_width", w), _number("image_height", h)
    if w <= 0 or h <= 0:
        raise InvalidParameter("image_width", "the image's size must be positive")
    return w, h


def _inside(name: str, x: float, y: float, size: tuple[float, float] | None) -> None:
    if size is not None and not (0 <= x <= size[0] and 0 <= y <= size[1]):
        raise InvalidParameter(name, f"({x}, {y}) lies outside the {size[0]}×{size[1]} image")


def _label(name: str, shape: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    if not params.get("with_labels"):
        return {}  # Scale's response carries a label only when the task asks for labels
    label = shape.get("label")
    if not isinstance(label, str) or not label:
        raise InvalidParameter(name, "choose a label for this shape")
    if label not in params["objects_to_annotate"]:
        raise InvalidParameter(name, "must be one of the task's objects_to_annotate")
    return {"label": label}


def _box(name: str, shape: Mapping[str, Any], params: Mapping[str, Any], size) -> dict[str, Any]:
    left = _number(f"{name}[left]", shape.get("left"))
    top = _number(f"{name}[top]", shape.get("top"))
    width = _number(f"{name}[width]", shape.get("width"))
    height = _number(f"{name}[height]", shape.get("height"))
    min_width, min_height = params.get("min_width") or 0, params.get("min_height") or 0
    if width <= 0 or width < min_width:
        raise InvalidParameter(f"{name}[width]", f"is {width} px; this task needs boxes at least "
                                                 f"{max(min_width, 1)} px wide")
    if height <= 0 or height < min_height:
        raise InvalidParameter(f"{name}[height]", f"is {height} px; this task needs boxes at least "
                                                  f"{max(min_height, 1)} px high")
    _inside(f"{name}[left]", left, top, size)
    _inside(f"{name}[width]", left + width, top + height, size)
    return {"left": left, "top": top, "width": width, "height": height,
            **_label(f"{name}[label]", shape, params)}


def _vertices(kind: Kind, name: str, shape: Mapping[str, Any], params: Mapping[str, Any],
              size) -> dict[str, Any]:
    vertices = shape.get("vertices")
    if not isinstance(vertices, list):
        raise InvalidParameter(f"{name}[vertices]", "must be an array of {x, y} objects")
    least = least_vertices(kind, params)
    most = params.get("max_vertices") or MAX_VERTICES
    if len(vertices) < least:
        raise InvalidParameter(f"{name}[vertices]", f"has {len(vertices)}; this task needs at "
                                                    f"least {least} per {kind}")
    if len(vertices) > most:
        raise InvalidParameter(f"{name}[vertices]", f"has {len(vertices)}; this task allows at "
                                                    f"most {most} per {kind}")
    out = []
    for j, vertex in enumerate(vertices):
        vname = f"{name}[vertices][{j}]"
        if not isinstance(vertex, Mapping):
            raise InvalidParameter(vname, "must be an {x, y} object")
        x, y = _number(f"{vname}[x]", vertex.get("x")), _number(f"{vname}[y]", vertex.get("y"))
        _inside(vname, x, y, size)
        out.append({"x": x, "y": y})
    return {**_label(f"{name}[label]", shape, params), "vertices": out}


def _point(name: str, shape: Mapping[str, Any], params: Mapping[str, Any], size) -> dict[str, Any]:
    x, y = _number(f"{name}[x]", shape.get("x")), _number(f"{name}[y]", shape.get("y"))
    _inside(name, x, y, size)
    return {**_label(f"{name}[label]", shape, params), "x": x, "y": y}


def validate(kind: Kind, params: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """``{"annotations": [...]}`` with every shape checked; unknown keys of a shape are dropped.
    No shapes at all is an answer (the image may show none of the objects)."""
    if answer.get("image_loaded") is False:
        raise InvalidParameter("image", "did not load in your browser, so nothing could be drawn "
                                        "on it; skip this task")
    size = image_size(answer)
    shapes = answer.get("annotations")
    if shapes is None:
        raise InvalidParameter("annotations", "is required (an empty array when there is nothing to draw)")
    if not isinstance(shapes, list):
        raise InvalidParameter("annotations", "must be an array")
    if len(shapes) > MAX_SHAPES:
        raise InvalidParameter("annotations", f"must hold at most {MAX_SHAPES} shapes")
    out = []
    for i, shape in enumerate(shapes):
        name = f"annotations[{i}]"
        if not isinstance(shape, Mapping):
            raise InvalidParameter(name, "must be an object")
        if kind == "box":
            out.append(_box(name, shape, params, size))
        elif kind == "point":
            out.append(_point(name, shape, params, size))
        else:
            out.append(_vertices(kind, name, shape, params, size))
    return {"annotations": out}


# -- the simulated worker ------------------------------------------------------------------------


def simulate(kind: Kind, task_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """One to three plausible shapes inside ``SIMULATED_WIDTH`` × ``SIMULATED_HEIGHT``, the same
    for the same task; one per label (up to three) when the task asks for labels."""
    seed = hashlib.sha256(f"{kind}:{task_id}".encode()).digest()
    labels = list(params["objects_to_annotate"])
    count = seed[0] % 3 + 1
    out = []
    for i in range(count):
        r = seed[1 + i * 6: 7 + i * 6]  # six bytes of randomness per shape
        label = {"label": labels[i % len(labels)]} if params.get("with_labels") else {}
        cx = 40 + r[0] % (SIMULATED_WIDTH - 80)
        cy = 40 + r[1] % (SIMULATED_HEIGHT - 80)
        if kind == "box":
            w = max(int(params.get("min_width") or 0), 20 + r[2] % 60)
            h = max(int(params.get("min_height") or 0), 20 + r[3] % 60)
            left, top = max(0, cx - w // 2), max(0, cy - h // 2)
            out.append({"left": left, "top": top, "width": w, "height": h, **label})
        elif kind == "point":
            out.append({**label, "x": cx, "y": cy})
        else:
            least = least_vertices(kind, params)
            most = params.get("max_vertices") or max(least, 6)
            n = least + r[4] % (most - least + 1)
            radius = 15 + r[5] % 25
            # Evenly around a circle: a polygon that never crosses itself, a line that bends.
            turn = 2 * math.pi / n if kind == "polygon" else math.pi / max(n - 1, 1)
            vertices = [{"x": round(cx + radius * math.cos(k * turn)),
                         "y": round(cy + radius * math.sin(k * turn))} for k in range(n)]
            out.append({**label, "vertices": vertices})
    return {"annotations": out}
