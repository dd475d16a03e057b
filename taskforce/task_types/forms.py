"""Reading a worker's submitted answer form, shared by the types' ``answer_from_form`` and
``form_values``.

Inputs are named by position (``field-0``, ``row-2-1``, ``category=3``), never by the customer's
keys or texts, so nothing a customer writes ends up in a ``name`` attribute and browsers' newline
normalisation of submitted values cannot change an answer. A value that is not a position this
task has becomes something the type's ``validate_response`` refuses, never an exception here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class FormLike(Protocol):
    """What a type may read of a submitted form (Starlette's ``FormData`` is one). Values are
    strings, or uploads where a browser sent a file: every helper here ignores those."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def getlist(self, key: str) -> list[Any]: ...

    def multi_items(self) -> list[tuple[str, Any]]: ...


#: ``row-<r>-<c>``: a cell of a table of rows. Three digits each: an 11th row must still be read
#: (and refused by the row limit), a thousandth cannot exist.
ROW_INPUT = re.compile(r"^row-([0-9]{1,3})-([0-9]{1,3})$")
#: Rows kept when a refused answer is shown again (more than any limit, fewer than a flood).
_REFILL_ROWS = 100


def position(raw: Any, count: int) -> int | None:
    """``raw`` as an index below ``count``, or None. ASCII digits only: ``"²".isdigit()`` is true
    and ``int("²")`` fails."""
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 6 and int(raw) < count:
        return int(raw)
    return None


def pick(options: Sequence[str], raw: Any) -> Any:
    """The option at this position; anything else becomes -1, a value no check accepts."""
    index = position(raw, len(options))
    return options[index] if index is not None else -1


def picks(options: Sequence[str], form: FormLike, name: str) -> list[Any]:
    """Every option chosen under ``name`` (checkboxes), each as ``pick`` reads it."""
    return [pick(options, v) for v in form.getlist(name) if isinstance(v, str)]


def one_pick(options: Sequence[str], form: FormLike, name: str) -> Any:
    """A radio group's choice: ``""`` when none was sent, -1 when it is not exactly one option."""
    chosen = picks(options, form, name)
    if not chosen:
        return ""
    return chosen[0] if len(chosen) == 1 else -1


def text(form: FormLike, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def field_values(form: FormLike, keys: Iterable[str], prefix: str = "field-") -> dict[str, Any]:
    """``{key: value}`` for each ``{prefix}{i}`` input present; a missing input stays missing (and
    is refused as missing, unlike one left blank)."""
    out: dict[str, Any] = {}
    for i, key in enumerate(keys):
        value = form.get(f"{prefix}{i}")
        if value is not None:
            out[key] = value if isinstance(value, str) else ""
    return out


def _cells(form: FormLike, limit: int | None = None) -> dict[int, dict[int, str]]:
    cells: dict[int, dict[int, str]] = {}
    for name, value in form.multi_items():
        match = ROW_INPUT.match(name)
        if match and isinstance(value, str) and (limit is None or int(match[1]) < limit):
            cells.setdefault(int(match[1]), {})[int(match[2])] = value
    return cells


def rows(form: FormLike, keys: Sequence[str]) -> list[dict[str, Any]]:
    """The ``row-<r>-<c>`` table as ``[{key: value}]`` in row order; a row left empty is dropped
    (the worker added it and wrote nothing), every other row is counted against the limit."""
    cells = _cells(form)
    out = []
    for r in sorted(cells):
        row = {key: cells[r][i] for i, key in enumerate(keys) if i in cells[r]}
        if any(v.strip() for v in row.values()):
            out.append(row)
    return out


# -- putting what the worker typed back into the form -------------------------------------------


def typed_fields(form: FormLike | None, prefix: str = "field-") -> dict[str, str]:
    """``{"0": value, …}`` of the ``{prefix}N`` inputs, as the partial looks them up by position."""
    if form is None:
        return {}
    return {k[len(prefix):]: v for k, v in form.multi_items() if k.startswith(prefix) and isinstance(v, str)}


def typed_rows(form: FormLike | None) -> list[dict[int, str]]:
    """The row table's cells, ``[{column: value}]`` in row order."""
    if form is None:
        return []
    cells = _cells(form, _REFILL_ROWS)
    return [cells[r] for r in sorted(cells)]


def checked(form: FormLike | None, name: str) -> set[str]:
    """The raw values sent under ``name`` (the positions of ticked boxes or the chosen radio)."""
    if form is None:
        return set()
    return {v for v in form.getlist(name) if isinstance(v, str)}


def raw_form_values(params: Any, form: FormLike | None) -> dict[str, Any]:
    """The default ``form_values``: every text input as sent, ``{name: [values]}``."""
    out: dict[str, list[str]] = {}
    if form is not None:
        for name, value in form.multi_items():
            if isinstance(value, str) and name not in ("csrf_token", "lease"):
                out.setdefault(name, []).append(value)
    return {"raw": out}
