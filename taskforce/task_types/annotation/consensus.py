"""Several workers' shapes on one image, combined into one answer (the ``combine`` hook).

1. **Group.** The first worker's shapes each start a group. Each next worker's shapes are matched
   to the groups so far by the Hungarian algorithm on similarity (IoU for boxes and polygons,
   distance for points and lines; geometry.py); a pair below ``MATCH_THRESHOLD`` is no match, and
   a shape left unmatched starts a group of its own. A shape is compared with a group by its mean
   similarity to the group's members. With labels, only shapes of the same label are compared.
2. **Keep.** A group is kept when the workers who drew it carry more than half of the answers'
   total weight (each answer's ``weight``, 1.0 unless the quality code knows better): with three
   workers, two must have drawn it.
3. **Combine.** Boxes take the weighted median of each edge, points of x and y. Polygons and
   lines cannot be averaged vertex by vertex (workers place different numbers of vertices), so
   they take the group's medoid: the member most similar, by weight, to the others.
4. **Agreement.** Each kept shape carries ``agreement``: the share of the total weight whose
   worker drew it. ``confidence`` is how clear the keep/drop decisions were: the mean over all
   groups of max(share, 1 − share); 1.0 when every worker drew nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from taskforce.task_types.annotation import geometry
from taskforce.task_types.annotation.shapes import Kind
from taskforce.task_types.answers import Answer, Combined, Skills

#: Below this similarity two workers' shapes are different objects (Ground Truth and the COCO
#: metric both count a box found at IoU 0.5).
MATCH_THRESHOLD = 0.5

SIMILARITY: dict[Kind, Callable[[Any, Any], float]] = {
    "box": geometry.box_iou,
    "polygon": geometry.polygon_iou,
    "line": geometry.line_similarity,
    "point": geometry.point_similarity,
}


@dataclass
class _Group:
    label: str | None
    members: list[tuple[int, Mapping[str, Any]]] = field(default_factory=list)  # (answer index, shape)


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value at which half the weight lies on each side (the mean of the two middle values
    when the halves meet exactly between them, as the plain median of an even count is)."""
    pairs = sorted(zip(values, weights))
    total = sum(w for _, w in pairs)
    running = 0.0
    for i, (value, weight) in enumerate(pairs):
        running += weight
        if running > total / 2 + 1e-12:
            return value
        if abs(running - total / 2) <= 1e-12:
            return (value + pairs[i + 1][0]) / 2
    return pairs[-1][0]


def _group_similarity(similarity: Callable[[Any, Any], float], group: _Group,
                      shape: Mapping[str, Any]) -> float:
    return sum(similarity(shape, s) for _, s in group.members) / len(group.members)


def _number(value: float) -> int | float:
    value = round(value, 2)
    return int(value) if float(value).is_integer() else value


def _combine_group(kind: Kind, group: _Group, weights: Sequence[float]) -> dict[str, Any]:
    shapes = [shape for _, shape in group.members]
    w = [weights[i] for i, _ in group.members]
    label = {"label": group.label} if group.label is not None else {}
    if kind == "box":
        left = weighted_median([s["left"] for s in shapes], w)
        top = weighted_median([s["top"] for s in shapes], w)
        right = weighted_median([s["left"] + s["width"] for s in shapes], w)
        bottom = weighted_median([s["top"] + s["height"] for s in shapes], w)
        return {"left": _number(left), "top": _number(top), "width": _number(right - left),
                "height": _number(bottom - top), **label}
    if kind == "point":
        return {**label, "x": _number(weighted_median([s["x"] for s in shapes], w)),
                "y": _number(weighted_median([s["y"] for s in shapes], w))}
    similarity = SIMILARITY[kind]
    best = max(range(len(shapes)), key=lambda k: sum(
        w[j] * similarity(shapes[k], shapes[j]) for j in range(len(shapes)) if j != k))
    return {**label, "vertices": [dict(v) for v in shapes[best]["vertices"]]}


def combine(kind: Kind, params: Mapping[str, Any], answers: Sequence[Answer],
            skills: Skills | None = None) -> Combined:
    """The hook's work for one kind. Each answer's ``weight`` is what the quality code made of
    the worker's skill, so ``skills`` is not asked again."""
    if not answers:
        raise ValueError("combine needs at least one answer")
    weights = [max(0.0, float(a.weight)) for a in answers]
    if sum(weights) <= 0:
        weights = [1.0] * len(answers)
    total = sum(weights)
    similarity = SIMILARITY[kind]
    with_labels = bool(params.get("with_labels"))

    groups: list[_Group] = []
    for index, answer in enumerate(answers):
        shapes = list(answer.response.get("annotations") or [])
        by_label: dict[str | None, list[Mapping[str, Any]]] = {}
        for shape in shapes:
            by_label.setdefault(shape.get("label") if with_labels else None, []).append(shape)
        for label, mine in by_label.items():
            candidates = [g for g in groups if g.label == label]
            matched = geometry.match(candidates, mine, partial(_group_similarity, similarity),
                                     MATCH_THRESHOLD)
            taken = set()
            for g, s, _ in matched:
                candidates[g].members.append((index, mine[s]))
                taken.add(s)
            for s, shape in enumerate(mine):
                if s not in taken:
                    groups.append(_Group(label=label, members=[(index, shape)]))

    kept: list[tuple[float, dict[str, Any]]] = []
    decisions = []
    for group in groups:
        # A worker who drew two shapes into one group counts once.
        share = sum(weights[i] for i in {i for i, _ in group.members}) / total
        decisions.append(max(share, 1 - share))
        if share > 0.5 + 1e-9:
            shape = _combine_group(kind, group, weights)
            shape["agreement"] = round(share, 3)
            kept.append((share, shape))
    annotations = [shape for _, shape in kept]
    agreement = {f"annotations[{i}]": shape["agreement"] for i, shape in enumerate(annotations)}
    confidence = sum(decisions) / len(decisions) if decisions else 1.0
    return Combined(response={"annotations": annotations}, confidence=round(confidence, 3),
                    method="shape_consensus", agreement=agreement, weights=tuple(weights))
