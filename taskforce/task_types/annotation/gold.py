"""A worker's shapes on a gold task, scored against the expected ones (the ``gold_matches`` hook).

Shapes never match exactly, so the expected and the given shapes are paired one to one by the
Hungarian algorithm on the similarity the combining uses (consensus.SIMILARITY: IoU for boxes and
polygons, distance for points and lines), a pair counting only at ``consensus.MATCH_THRESHOLD``
or above: the same rule that makes two workers' shapes "the same object" makes a worker's shape
the expected one. With labels, only shapes of the same label are paired.

The answer is right when every expected shape is paired and the worker drew nothing else: a
missed object and an invented one are both mistakes (docs/decisions.md, "Gold for drawn shapes").
An image with nothing to draw is right only when the worker drew nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from taskforce.task_types.annotation import consensus, geometry
from taskforce.task_types.annotation.shapes import Kind


@dataclass(frozen=True)
class GoldScore:
    """How a worker's shapes compare with the expected ones."""

    expected: int
    given: int
    #: Expected shapes paired with one of the worker's.
    matched: int

    @property
    def correct(self) -> bool:
        return self.matched == self.expected == self.given


def _by_label(shapes: list[Mapping[str, Any]], with_labels: bool) -> dict[str | None, list[Mapping[str, Any]]]:
    out: dict[str | None, list[Mapping[str, Any]]] = {}
    for shape in shapes:
        out.setdefault(shape.get("label") if with_labels else None, []).append(shape)
    return out


def score(kind: Kind, params: Mapping[str, Any], expected: Mapping[str, Any],
          given: Mapping[str, Any]) -> GoldScore:
    """``expected`` and ``given`` are responses as the type's ``validate_response`` returns them."""
    want = list(expected.get("annotations") or [])
    got = list(given.get("annotations") or [])
    with_labels = bool(params.get("with_labels"))
    similarity = consensus.SIMILARITY[kind]
    got_by_label = _by_label(got, with_labels)
    matched = 0
    for label, mine in _by_label(want, with_labels).items():
        theirs = got_by_label.get(label, [])
        matched += len(geometry.match(mine, theirs, similarity, consensus.MATCH_THRESHOLD))
    return GoldScore(expected=len(want), given=len(got), matched=matched)


def gold_matches(kind: Kind, params: Mapping[str, Any], expected: Mapping[str, Any],
                 given: Mapping[str, Any]) -> bool:
    return score(kind, params, expected, given).correct
