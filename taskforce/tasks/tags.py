"""Task tags (scaleapi 2.x): a JSON array of strings on the task, and the list's ``tags`` filter.

The filter is "carries any of these tags", written per backend (``json_each`` on SQLite, ``?|``
on PostgreSQL's jsonb). It has no index of its own: it narrows a customer's list like the other
row filters, after the customer/mode index has found the customer's tasks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from taskforce.errors import InvalidParameter

#: At most this many tags on a task, each at most TAG_LENGTH characters.
MAX_TAGS = 100
TAG_LENGTH = 200


class _HasAnyTag(ColumnElement):
    type = Boolean()
    inherit_cache = False

    def __init__(self, tags: tuple[str, ...]) -> None:
        self.tags = tags


def has_any(tags: Iterable[str]) -> ColumnElement:
    """A condition on ``tasks``: the task carries at least one of ``tags``."""
    return _HasAnyTag(tuple(tags))


def _binds(element: _HasAnyTag, compiler: Any, **kw: Any) -> str:
    return ", ".join(compiler.process(literal(tag), **kw) for tag in element.tags)


@compiles(_HasAnyTag, "postgresql")
def _postgresql(element: _HasAnyTag, compiler: Any, **kw: Any) -> str:
    return f"(CAST(tasks.tags AS JSONB) ?| CAST(ARRAY[{_binds(element, compiler, **kw)}] AS TEXT[]))"


@compiles(_HasAnyTag)
def _sqlite(element: _HasAnyTag, compiler: Any, **kw: Any) -> str:
    return (f"EXISTS (SELECT 1 FROM json_each(tasks.tags) AS tag "
            f"WHERE tag.value IN ({_binds(element, compiler, **kw)}))")


def checked(value: Any, param: str = "tags") -> list[str]:
    """A list of tags as given (a JSON array of strings, or ``{"tags": [...]}``), de-duplicated
    in order, or InvalidParameter naming what is wrong."""
    if isinstance(value, dict) and set(value) == {"tags"}:
        value = value["tags"]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise InvalidParameter(param, "must be an array of strings")
    out: list[str] = []
    for i, tag in enumerate(value):
        if not isinstance(tag, str) or not tag.strip() or "\x00" in tag or len(tag) > TAG_LENGTH:
            raise InvalidParameter(f"{param}[{i}]", f"must be a non-empty string of at most {TAG_LENGTH} "
                                                    "characters, without NUL")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise InvalidParameter(param, f"a task carries at most {MAX_TAGS} tags")
    return out
