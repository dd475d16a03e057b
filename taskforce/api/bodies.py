"""Request bodies: JSON, and url-encoded forms as curl and Node's ``request``/``qs`` write them.

A form is decoded by each parameter's declared kind (task_types.base.Kind), never by guessing
from the keys: ``categories=a`` is a one-element list because ``categories`` is an array
parameter, and ``fields[0]=x`` is the dict ``{"0": "x"}`` because ``fields`` is a dict parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from taskforce.errors import InvalidParameter
from taskforce.ids import is_ascii_number
from taskforce.json_values import MAX_JSON_DEPTH, check_values
from taskforce.task_types.base import Kind

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no"})
#: A form may not build structures deeper than this (``metadata[a][b][c]…``).
MAX_DEPTH = 8


def _loads(raw: bytes | str) -> Any:
    """orjson's reading, except that integers it would turn into floats are kept as written
    (Python ints), so ``check_values`` can refuse them rather than store a changed number."""
    data = orjson.loads(raw)
    if type(data) in (dict, list) and _has_rounded_integer(data):
        # Rare, so the standard library's slower but exact reading is paid only here.
        data = json.loads(raw)
    return data


#: Any JSON value read as the API reads bodies (integers kept exact for ``check_values``).
read_json_value = _loads


def _has_rounded_integer(value: Any) -> bool:
    """Whether orjson read an integer as a float. Not looked for past MAX_JSON_DEPTH: such a
    value is refused anyway, and the standard library's reader recurses."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return False
        for child in (node.values() if type(node) is dict else node):
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is float and (child >= 2**63 or child <= -(2**63)) and child.is_integer():
                return True
    return False


def parse_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = _loads(body)
    except (orjson.JSONDecodeError, json.JSONDecodeError) as exc:
        raise InvalidParameter("body", f"is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InvalidParameter("body", "must be a JSON object")
    return data


def split_key(key: str) -> tuple[str, list[str]]:
    """``fields[title]`` → ("fields", ["title"]); ``a[]`` → ("a", [""]); ``a`` → ("a", [])."""
    start = key.find("[")
    if start <= 0 or not key.endswith("]"):
        return key, []
    path = _BRACKETS.findall(key[start:])
    # Reject keys like "a[b]c[d]" whose brackets do not tile the rest of the key.
    if "".join(f"[{p}]" for p in path) != key[start:]:
        return key, []
    return key[:start], path


def _bool(name: str, value: str) -> bool | str:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return value  # left as a string: validation says "must be a boolean"


def _assign(target: dict[str, Any], path: list[str], value: Any, name: str) -> None:
    if len(path) > MAX_DEPTH:
        raise InvalidParameter(name, "is nested too deeply")
    node = target
    for i, part in enumerate(path[:-1]):
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    last = path[-1]
    if last == "":
        # qs writes "a[]=x" for array members: gather them under increasing indices.
        last = str(sum(1 for k in node if is_ascii_number(k)))
    node[last] = value


def _listify(node: Any) -> Any:
    """For free-form objects (metadata) only: dicts keyed 0..n-1 become lists, as qs does."""
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(is_ascii_number(k) for k in items):
        indices = sorted(int(k) for k in items)
        if indices == list(range(len(indices))):
            return [items[str(i)] for i in indices]
    return items


def decode_pairs(pairs: list[tuple[str, str]], kinds: Mapping[str, Kind]) -> dict[str, Any]:
    """Turn (key, value) pairs into the parameters, by each parameter's declared kind."""
    scalars: dict[str, list[str]] = {}
    arrays: dict[str, list[tuple[int | None, int, str]]] = {}
    dicts: dict[str, dict[str, Any]] = {}
    errors: list[InvalidParameter] = []
    for seq, (key, value) in enumerate(pairs):
        base, path = split_key(key)
        kind = kinds.get(base)
        if kind is None:
            continue  # unknown parameters are ignored: older clients send extras
        if kind == "array":
            if len(path) > 1:
                errors.append(InvalidParameter(base, "must be an array of strings"))
                continue
            index = None
            if path and path[0] != "":
                if not is_ascii_number(path[0]) or len(path[0]) > 6:
                    errors.append(InvalidParameter(base, f"has a bad index [{path[0]}]"))
                    continue
                index = int(path[0])
            arrays.setdefault(base, []).append((index, seq, value))
        elif kind in ("dict", "object"):
            if not path:
                dicts[base] = _json_object_or_text(value)
                try:
                    check_values({base: dicts[base]})  # before _listify walks it recursively
                except InvalidParameter as exc:
                    errors.append(exc)
                continue
            current = dicts.setdefault(base, {})
            if not isinstance(current, dict):
                current = dicts[base] = {}
            if kind == "dict" and len(path) > 1:
                errors.append(InvalidParameter(f"{base}[{path[0]}]", "must be a string"))
                continue
            _assign(current, path, value, base)
        else:
            if path:
                errors.append(InvalidParameter(base, "must be a single value, not a list or object"))
                continue
            scalars.setdefault(base, []).append(value)
    if errors:
        raise errors[0]

    out: dict[str, Any] = {}
    for name, values in scalars.items():
        if len(values) > 1:
            raise InvalidParameter(name, "was given more than once")
        out[name] = _bool(name, values[0]) if kinds[name] == "bool" else values[0]
    for name, entries in arrays.items():
        # Indexed members in index order, then plain repeats in the order sent.
        indexed = sorted((e for e in entries if e[0] is not None), key=lambda e: (e[0], e[1]))
        plain = [e for e in entries if e[0] is None]
        out[name] = [e[2] for e in indexed + plain]
    for name, value in dicts.items():
        out[name] = _listify(value) if kinds[name] == "object" and isinstance(value, dict) else value
    return out


def _json_object_or_text(value: str) -> Any:
    # ``metadata={"a":1}`` in a form: a JSON object given as one value.
    stripped = value.strip()
    if stripped.startswith("{"):
        try:
            parsed = _loads(stripped)
        except (orjson.JSONDecodeError, json.JSONDecodeError):
            return value
        return parsed
    return value


def parse_form(body: bytes, kinds: Mapping[str, Kind]) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter("body", "is not UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=10_000)
    except ValueError:
        raise InvalidParameter("body", "is not a well-formed url-encoded form") from None
    return decode_pairs(pairs, kinds)
