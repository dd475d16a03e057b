"""What a JSON-valued parameter may hold: limits every decoding path (JSON body, a form's
JSON value, brackets) shares, checked once before a type's model sees the parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    can be written back as given. Raises InvalidParameter naming the parameter."""
    for name, value in data.items():
        if not isinstance(value, (dict, list, int)):
            continue
        stack: list[tuple[Any, int, str]] = [(value, 1, name)]
        while stack:
            node, depth, where = stack.pop()
            if isinstance(node, (dict, list)):
                if depth > MAX_JSON_DEPTH:
                    raise InvalidParameter(name, f"is nested more than {MAX_JSON_DEPTH} levels deep")
                items = node.items() if isinstance(node, dict) else enumerate(node)
                stack.extend((v, depth + 1, f"{where}[{k}]") for k, v in items
                             if isinstance(v, (dict, list, int)))
            elif isinstance(node, int) and not isinstance(node, bool) and not MIN_INT <= node <= MAX_INT:
                raise InvalidParameter(where, f"is an integer outside {MIN_INT}..{MAX_INT}; "
                                              "send it as a string to keep every digit")
