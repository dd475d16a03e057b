"""What a JSON-valued parameter may hold: limits every decoding path (JSON body, a form's
JSON value, brackets) shares, checked once before a type's model sees the parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from taskforce.errors import InvalidParameter

#: How deep a parameter's JSON value may nest (objects and arrays, the parameter's own value
#: counting as one). orjson reads 1,024 levels but writes only 254, and a stored value is
#: written again inside a task object, a list page and a callback body: a value that could be
#: read but not written back stopped every test task and broke the customer's list (issue 13).
MAX_JSON_DEPTH = 64
#: The integers orjson writes back exactly; it reads any longer one as a float (1e+26).
MIN_INT, MAX_INT = -(2**63), 2**64 - 1


def check_values(data: Mapping[str, Any]) -> None:
    """Every parameter's value nests at most MAX_JSON_DEPTH deep and holds only integers that
    can be written back as given. Raises InvalidParameter naming the parameter (and the path to
    a bad integer). On every create: a quick walk, and a second one with paths only on failure."""
    for name, value in data.items():
        kind = type(value)
        if kind is dict or kind is list:
            if not _fits(value):
                _raise_for(name, value)
        elif kind is int and not MIN_INT <= value <= MAX_INT:
            _raise_for(name, value)


def _fits(value: dict | list) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return False
        for child in (node.values() if type(node) is dict else node):
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is int and not MIN_INT <= child <= MAX_INT:
                return False
    return True


def _raise_for(name: str, value: Any) -> None:
    stack: list[tuple[Any, int, str]] = [(value, 1, name)]
    while stack:
        node, depth, where = stack.pop()
        kind = type(node)
        if kind is dict or kind is list:
            if depth > MAX_JSON_DEPTH:
                raise InvalidParameter(name, f"is nested more than {MAX_JSON_DEPTH} levels deep")
            items = node.items() if kind is dict else enumerate(node)
            stack.extend((v, depth + 1, f"{where}[{k}]") for k, v in items)
        elif kind is int and not MIN_INT <= node <= MAX_INT:
            raise InvalidParameter(where, f"is an integer outside {MIN_INT}..{MAX_INT}; "
                                          "send it as a string to keep every digit")


def dumps(value: Any) -> bytes:
    """JSON bytes for a response or a callback body. orjson writes at most 254 levels, and a
    value stored before MAX_JSON_DEPTH (up to 253 levels inside its column) sits a few levels
    deeper in a task object, a list page or a callback: the standard library writes those, so
    such a row does not break its customer's list or its callback for good."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
