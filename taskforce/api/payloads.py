"""Reading the bodies of the non-create endpoints: a JSON value, or an object given as JSON or
as a url-encoded form (decoded by the endpoint's declared parameter kinds, as creates are)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request

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
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter("body", f"is not valid JSON ({exc.msg})") from None


async def read_object(request: Request, kinds: Mapping[str, Kind], limit: int) -> dict[str, Any]:
    """A JSON object or a url-encoded form; {} for an empty body."""
    content_type = _content_type(request)
    body = await read_body(request, limit)
    if not body.strip():
        return {}
    if _is_json(content_type):
        return bodies.parse_json(body)
    if content_type in ("application/x-www-form-urlencoded", ""):
        return bodies.parse_form(body, kinds)
    raise UnsupportedMediaType(f"content type {content_type!r} is not supported: send application/json "
                               "or application/x-www-form-urlencoded")
