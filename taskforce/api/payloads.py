"""Reading the bodies of the non-create endpoints: a JSON value, or an object given as JSON or
as a url-encoded form (decoded by the endpoint's declared parameter kinds, as creates are)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request

from taskforce import json_values
from taskforce.api import bodies
from taskforce.api.v1 import read_body
from taskforce.errors import InvalidParameter, UnsupportedMediaType
from taskforce.task_types.base import Kind


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _is_json(content_type: str) -> bool:
    return content_type in ("application/json", "text/json") or content_type.endswith("+json")


async def read_json(request: Request, limit: int) -> Any:
    """Any JSON value (scaleapi 2.x posts bare arrays and objects); None for an empty body."""
    content_type = _content_type(request)
    body = await read_body(request, limit)
    if not body.strip():
        return None
    if content_type and not _is_json(content_type):
        raise UnsupportedMediaType(f"content type {content_type!r} is not supported: send application/json")
    try:
        value = bodies.read_json_value(body)
    except (orjson.JSONDecodeError, json.JSONDecodeError) as exc:
        raise InvalidParameter("body", f"is not valid JSON ({exc.msg})") from None
    json_values.check_values({"body": value})
    return value


async def read_object(request: Request, kinds: Mapping[str, Kind], limit: int) -> dict[str, Any]:
    """A JSON object or a url-encoded form; {} for an empty body."""
    content_type = _content_type(request)
    body = await read_body(request, limit)
    if not body.strip():
        return {}
    if _is_json(content_type):
        data = bodies.parse_json(body)
    elif content_type in ("application/x-www-form-urlencoded", ""):
        data = bodies.parse_form(body, kinds)
    else:
        raise UnsupportedMediaType(f"content type {content_type!r} is not supported: send "
                                   "application/json or application/x-www-form-urlencoded")
    # The limits every create has (depth, integers orjson writes back exactly): a project's
    # params and a batch's or task's metadata are stored and written back just the same.
    json_values.check_values(data)
    return data
