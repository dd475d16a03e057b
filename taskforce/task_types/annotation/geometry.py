"""How alike two shapes are, in the image's own pixels, and which shapes of two workers belong
together.

Every similarity is 0–1 (1: the same shape). Boxes and polygons compare by intersection over
union; points and lines by distance, turned into a similarity that reaches 0 at ``radius``
pixels. Polygon areas come from shapely (GEOS): exact for any simple polygon, and a worker's
self-crossing outline is repaired (``make_valid``) rather than refused. Matching is the Hungarian
algorithm (scipy's ``linear_sum_assignment``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from scipy.optimize import linear_sum_assignment

#: Two workers' points (or lines) further apart than this many pixels are different objects.
POINT_RADIUS = 20.0
LINE_RADIUS = 20.0

Shape = Mapping[str, Any]
Similarity = Callable[[Shape, Shape], float]


def box_iou(a: Shape, b: Shape) -> float:
    ax1, ay1 = a["left"], a["top"]
    ax2, ay2 = ax1 + a["width"], ay1 + a["height"]
    bx1, by1 = b["left"], b["top"]
    bx2, by2 = bx1 + b["width"], by1 + b["height"]
    iw = min(ax2, bx2) - max(ax1, bx1)
    ih = min(ay2, by2) - max(ay1, by1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


def _polygon(shape: Shape):
    ring = [(v["x"], v["y"]) for v in shape["vertices"]]
    poly = shapely.Polygon(ring)
    if not poly.is_valid:
        poly = shapely.make_valid(poly)
    return poly


def polygon_iou(a: Shape, b: Shape) -> float:
    pa, pb = _polygon(a), _polygon(b)
    union = shapely.area(shapely.union(pa, pb))
    if union <= 0:
        return 0.0
    return float(shapely.area(shapely.intersection(pa, pb)) / union)


def point_similarity(a: Shape, b: Shape, radius: float = POINT_RADIUS) -> float:
    return max(0.0, 1.0 - math.hypot(a["x"] - b["x"], a["y"] - b["y"]) / radius)


def line_distance(a: Shape, b: Shape) -> float:
    """The mean distance of each line's vertices to the other line, both ways (a symmetric
    average distance: unlike Hausdorff, one stray vertex does not decide it)."""
    la = shapely.LineString([(v["x"], v["y"]) for v in a["vertices"]])
    lb = shapely.LineString([(v["x"], v["y"]) for v in b["vertices"]])
    ends = [shapely.Point(v["x"], v["y"]) for v in a["vertices"]]
    there = [shapely.Point(v["x"], v["y"]) for v in b["vertices"]]
    forward = float(np.mean(shapely.distance(ends, lb)))
    backward = float(np.mean(shapely.distance(there, la)))
    return (forward + backward) / 2


def line_similarity(a: Shape, b: Shape, radius: float = LINE_RADIUS) -> float:
    return max(0.0, 1.0 - line_distance(a, b) / radius)


def match(rows: Sequence[Any], cols: Sequence[Any], similarity: Callable[[Any, Any], float],
          threshold: float) -> list[tuple[int, int, float]]:
    """Pairs ``(row, col, similarity)`` that maximise the total similarity, one col per row at
    most, leaving out pairs below ``threshold``."""
    if not rows or not cols:
        return []
    scores = np.array([[similarity(r, c) for c in cols] for r in rows], dtype=float)
    picked_rows, picked_cols = linear_sum_assignment(scores, maximize=True)
    return [(int(r), int(c), float(scores[r, c])) for r, c in zip(picked_rows, picked_cols)
            if scores[r, c] >= threshold]
