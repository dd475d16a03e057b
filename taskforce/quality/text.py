"""Combining free-text answers: agreement on normalised text, else the most skilled worker's.

Two answers agree when they are equal after ``normalise`` (Unicode NFC, case folded, runs of
whitespace made one space, ends trimmed). The value returned is the agreeing group's answer as
its most skilled member wrote it, not the normalised form: normalising is for comparing only.

Rows (transcription ``rows``) are matched by content, not position: workers list rows in
different orders and skip or add some. Each answer's rows are matched one-to-one to the rows
found so far, greedily by similarity (mean per-cell ``difflib`` ratio on normalised text; pairs
below ``ROW_MATCH`` never match); with at most 10 rows a side, greedy on sorted pairs finds the
same matching as an optimal assignment in practice and needs no solver. A row is kept when a
majority of the answers' weight holds it, and each of its cells is combined like a field. Rows
come in the most skilled worker's order.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Two rows below this similarity are different rows.
ROW_MATCH = 0.6


def normalise(text: str) -> str:
    # casefold can leave a string un-normalised (e.g. "ǰ" → "ǰ" decomposed): NFC again after it.
    return unicodedata.normalize("NFC", " ".join(unicodedata.normalize("NFC", text).casefold().split()))


@dataclass(frozen=True)
class FieldResult:
    value: str
    #: Share of the answers that agree with ``value`` (1/n when it fell back to one worker).
    agreement: float
    #: False when no two answers agreed and the most skilled worker's answer was taken.
    agreed: bool
    #: Which answers (indices) hold ``value``.
    members: tuple[int, ...]


def _best(indices: Sequence[int], weights: Sequence[float]) -> int:
    """The most skilled of ``indices`` (highest weight; the earliest answer on a tie)."""
    return max(indices, key=lambda i: (weights[i], -i))


def combine_values(values: Sequence[str], weights: Sequence[float]) -> FieldResult:
    """One field's answers → one value. The largest group of equal normalised answers wins if at
    least two answers are in it (a tie between groups goes to the one with more weight, then to
    the one holding the most skilled worker); otherwise the most skilled worker's answer."""
    if not values:
        raise ValueError("no values to combine")
    n = len(values)
    groups: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        groups.setdefault(normalise(value), []).append(i)
    top = _best(range(n), weights)
    members = max(groups.values(), key=lambda g: (len(g), sum(weights[i] for i in g), top in g))
    if len(members) < 2 and n > 1:
        return FieldResult(values[top], 1 / n, False, (top,))
    return FieldResult(values[_best(members, weights)], len(members) / n, True, tuple(members))


def combine_fields(answers: Sequence[Mapping[str, str]], weights: Sequence[float],
                   keys: Sequence[str]) -> tuple[dict[str, str], dict[str, float]]:
    """Each key combined on its own: (values, agreement per key)."""
    values: dict[str, str] = {}
    agreement: dict[str, float] = {}
    for key in keys:
        result = combine_values([str(a.get(key, "")) for a in answers], weights)
        values[key] = result.value
        agreement[key] = result.agreement
    return values, agreement


def row_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Mean per-cell similarity (0–1) of two normalised rows of the same keys."""
    if not a:
        return 1.0
    total = 0.0
    for x, y in zip(a, b, strict=True):
        total += 1.0 if x == y else difflib.SequenceMatcher(None, x, y, autojunk=False).ratio()
    return total / len(a)


@dataclass
class _Cluster:
    key: tuple[str, ...]                # normalised cells of its first row
    members: dict[int, int]             # answer index → row index in that answer
    position: float = 0.0               # summed row positions, for ordering


def combine_rows(answers: Sequence[Sequence[Mapping[str, str]]], weights: Sequence[float],
                 keys: Sequence[str]) -> tuple[list[dict[str, str]], float]:
    """Each answer's list of rows → one list, and the share of answers holding the same rows
    (after normalising, in any order)."""
    n = len(answers)
    if n == 0:
        return [], 1.0
    order = sorted(range(n), key=lambda i: (-weights[i], i))  # the most skilled first
    clusters: list[_Cluster] = []
    for i in order:
        rows = [tuple(normalise(str(r.get(k, ""))) for k in keys) for r in answers[i]]
        pairs = sorted(((row_similarity(row, c.key), -r, -ci)
                        for r, row in enumerate(rows) for ci, c in enumerate(clusters)),
                       reverse=True)
        used_rows: set[int] = set()
        used_clusters: set[int] = set()
        for similarity, neg_r, neg_c in pairs:
            r, ci = -neg_r, -neg_c
            if similarity < ROW_MATCH:
                break
            if r in used_rows or ci in used_clusters:
                continue
            used_rows.add(r)
            used_clusters.add(ci)
            clusters[ci].members[i] = r
            clusters[ci].position += r
        for r, row in enumerate(rows):
            if r not in used_rows:
                clusters.append(_Cluster(key=row, members={i: r}, position=float(r)))

    total = sum(weights) or float(n)
    top = order[0]
    kept = []
    for c in clusters:
        support = sum(weights[i] for i in c.members) if sum(weights) else float(len(c.members))
        if 2 * support > total or (2 * support == total and top in c.members):
            kept.append(c)
    # In the most skilled worker's order; rows it lacks where the others put them on average.
    kept.sort(key=lambda c: c.members[top] if top in c.members else c.position / len(c.members))
    combined = []
    for c in kept:
        members = list(c.members)
        cells, _ = combine_fields([answers[i][c.members[i]] for i in members],
                                  [weights[i] for i in members], keys)
        combined.append(cells)
    target = sorted(tuple(normalise(row[k]) for k in keys) for row in combined)
    same = sum(1 for a in answers
               if sorted(tuple(normalise(str(r.get(k, ""))) for k in keys) for r in a) == target)
    return combined, same / n
