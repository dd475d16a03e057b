"""How alike two shapes are, in the image's own pixels, and which shapes of two workers belong
together.

Every similarity is 0–1 (1: the same shape). Boxes and polygons compare by intersection over
union; points and lines by distance, turned into a similarity that reaches 0 at ``radius``
pixels. Polygon areas come from shapely (GEOS): exact for any simple polygon, and a worker's
self-crossing outline is repaired (``make_valid``) rather than refused; it is imported on first
use, so processes that never combine polygons never load it. Matching is the Hungarian algorithm,
written here: a task's shapes number in the tens, and scipy (140 MB, over a second to import)
would be there for this one function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Two workers' points (or lines) further apart than this many pixels are different objects.
POINT_RADIUS = 20.0
LINE_RADIUS = 20.0

Shape = Mapping[str, Any]


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
    import shapely

    poly = shapely.Polygon([(v["x"], v["y"]) for v in shape["vertices"]])
    return poly if poly.is_valid else shapely.make_valid(poly)


def _bounds(shape: Shape) -> tuple[float, float, float, float]:
    xs = [v["x"] for v in shape["vertices"]]
    ys = [v["y"] for v in shape["vertices"]]
    return min(xs), min(ys), max(xs), max(ys)


def _apart(a: Shape, b: Shape, margin: float = 0.0) -> bool:
    """Whether the shapes' bounding boxes are more than ``margin`` apart (then nothing else
    needs computing)."""
    ax1, ay1, ax2, ay2 = _bounds(a)
    bx1, by1, bx2, by2 = _bounds(b)
    return ax1 > bx2 + margin or bx1 > ax2 + margin or ay1 > by2 + margin or by1 > ay2 + margin


def polygon_iou(a: Shape, b: Shape) -> float:
    if _apart(a, b):
        return 0.0
    pa, pb = _polygon(a), _polygon(b)
    union = pa.union(pb).area
    return float(pa.intersection(pb).area / union) if union > 0 else 0.0


def point_similarity(a: Shape, b: Shape, radius: float = POINT_RADIUS) -> float:
    return max(0.0, 1.0 - math.hypot(a["x"] - b["x"], a["y"] - b["y"]) / radius)


def _to_segment(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _to_line(point: Mapping[str, Any], line: Sequence[Mapping[str, Any]]) -> float:
    if len(line) == 1:
        return math.hypot(point["x"] - line[0]["x"], point["y"] - line[0]["y"])
    return min(_to_segment(point["x"], point["y"], a["x"], a["y"], b["x"], b["y"])
               for a, b in zip(line, line[1:]))


def line_distance(a: Shape, b: Shape) -> float:
    """The mean distance of each line's vertices to the other line, both ways (a symmetric
    average distance: unlike Hausdorff, one stray vertex does not decide it)."""
    va, vb = a["vertices"], b["vertices"]
    forward = sum(_to_line(p, vb) for p in va) / len(va)
    backward = sum(_to_line(p, va) for p in vb) / len(vb)
    return (forward + backward) / 2


def line_similarity(a: Shape, b: Shape, radius: float = LINE_RADIUS) -> float:
    if _apart(a, b, radius):
        return 0.0
    return max(0.0, 1.0 - line_distance(a, b) / radius)


def _min_cost_assignment(cost: list[list[float]]) -> list[int]:
    """The column of each row that minimises the total cost, for ``rows <= columns``: the
    Hungarian algorithm with potentials (Kuhn–Munkres, O(rows² · columns))."""
    n, m = len(cost), len(cost[0])
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)
    owner, way = [0] * (m + 1), [0] * (m + 1)  # owner[j]: the row holding column j (1-based)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        least, used = [math.inf] * (m + 1), [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = owner[j0], math.inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    reduced = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if reduced < least[j]:
                        least[j], way[j] = reduced, j0
                    if least[j] < delta:
                        delta, j1 = least[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    least[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:  # flip the augmenting path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    column = [0] * n
    for j in range(1, m + 1):
        if owner[j]:
            column[owner[j] - 1] = j - 1
    return column


def match(rows: Sequence[Any], cols: Sequence[Any], similarity: Callable[[Any, Any], float],
          threshold: float) -> list[tuple[int, int, float]]:
    """Pairs ``(row, col, similarity)``, one col per row at most, with the largest total
    similarity among pairs of at least ``threshold`` (a pair below it is no match at all).

    Shapes far apart never compete, so the pairs split into small groups of shapes that overlap
    (connected components) and each group is solved alone: a crowded image of hundreds of boxes
    costs little more than its densest cluster."""
    if not rows or not cols:
        return []
    edges = {}
    for r, row in enumerate(rows):
        for c, col in enumerate(cols):
            score = similarity(row, col)
            if score >= threshold and score > 0:
                edges[r, c] = score
    parent = list(range(len(rows) + len(cols)))  # rows, then columns offset by len(rows)

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for r, c in edges:
        parent[root(r)] = root(len(rows) + c)
    components: dict[int, tuple[list[int], list[int]]] = {}
    for r, c in edges:
        part = components.setdefault(root(r), ([], []))
        if r not in part[0]:
            part[0].append(r)
        if c not in part[1]:
            part[1].append(c)
    out = []
    for part_rows, part_cols in components.values():
        if len(part_rows) <= len(part_cols):
            cost = [[-edges.get((r, c), 0.0) for c in part_cols] for r in part_rows]
            pairs = [(part_rows[i], part_cols[j]) for i, j in enumerate(_min_cost_assignment(cost))]
        else:
            cost = [[-edges.get((r, c), 0.0) for r in part_rows] for c in part_cols]
            pairs = [(part_rows[i], part_cols[j]) for j, i in enumerate(_min_cost_assignment(cost))]
        out.extend((r, c, edges[r, c]) for r, c in pairs if (r, c) in edges)
    return sorted(out)
