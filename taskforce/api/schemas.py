"""OpenAPI fragments for the scaleapi 2.x resources (projects, batches, files, task extras),
shared by their routers. Kept beside api/openapi.py's task schemas, which they reuse."""

from __future__ import annotations

from typing import Any

from taskforce.api.openapi import ERROR_SCHEMA, TASK_SCHEMA

_TEXT = {400: "A parameter is missing or invalid", 401: "Missing, unknown or revoked API key",
         404: "No such task, project, batch or file (or not yours)", 409: "Conflict: the name or "
         "unique_id is taken, or the task or batch is not in a state that allows this",
         413: "Body or file too large", 415: "Unsupported content type"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def errors(*codes: int) -> dict[int, dict[str, Any]]:
    return {code: {"description": _TEXT[code], **json_content(ERROR_SCHEMA)} for code in codes}


def operation(summary: str, tag: str, ok: str, schema: dict[str, Any], *codes: int,
              description: str = "", body: dict[str, Any] | None = None,
              query: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if body is not None:
        extra["requestBody"] = body
    if query:
        extra["parameters"] = query
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "response_model": None,
                          "responses": {200: {"description": ok, **json_content(schema)}, **errors(*codes)}}
    if description:
        op["description"] = description
    if extra:
        op["openapi_extra"] = extra
    return op


def json_body(schema: dict[str, Any], *, form: bool = False) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"required": True, "content": content}


TASK = TASK_SCHEMA
PROJECT = {
    "type": "object", "required": ["name", "type", "params", "param_history", "created_at"],
    "properties": {
        "name": {"type": "string"}, "type": {"type": "string"},
        "params": {"type": "object", "description": "Defaults for the project's tasks."},
        "param_history": {"type": "array", "items": {"type": "object"},
                          "description": "Every version of params, oldest first, each with its `version`."},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
BATCH = {
    "type": "object", "required": ["name", "project", "status", "metadata", "created_at"],
    "properties": {
        "name": {"type": "string"}, "project": {"type": "string"},
        "status": {"type": "string", "enum": ["staging", "in_progress", "completed"]},
        "callback": {"type": ["string", "null"]}, "metadata": {"type": "object"},
        "created_at": {"type": "string", "format": "date-time"},
        "finalized_at": {"type": "string", "format": "date-time"},
        "completed_at": {"type": "string", "format": "date-time"},
    },
}
BATCH_LIST = {
    "type": "object", "required": ["docs", "totalDocs", "limit", "offset", "has_more"],
    "properties": {"docs": {"type": "array", "items": BATCH}, "totalDocs": {"type": "integer"},
                   "limit": {"type": "integer"}, "offset": {"type": "integer"},
                   "has_more": {"type": "boolean"}},
}
BATCH_STATUS = {
    "type": "object", "required": ["status", "pending", "completed", "canceled", "error"],
    "properties": {"status": {"type": "string", "enum": ["staging", "in_progress", "completed"]},
                   "pending": {"type": "integer"}, "completed": {"type": "integer"},
                   "canceled": {"type": "integer"}, "error": {"type": "integer"}},
}
FILE = {
    "type": "object", "required": ["id", "attachment_url", "mime_type", "size", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "attachment_url": {"type": "string", "description": "`scaledata://ID`: use it as a task's attachment."},
        "mime_type": {"type": "string"}, "size": {"type": "integer"}, "filename": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "file_url": {"type": "string"}, "display_name": {"type": "string"},
        "project_name": {"type": "string"}, "reference_id": {"type": "string"},
    },
}
