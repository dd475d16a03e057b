"""OpenAPI descriptions of the v1 operations, generated from the same pydantic models that
validate requests, so /docs describes exactly what the handlers accept."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from taskforce.task_types import REGISTRY
from taskforce.task_types.base import HTTP_URL_SCHEMA, TaskType
from taskforce.tasks.status import Status, Urgency

#: Swagger UI's assets, served from the pinned ``fastapi-offline`` wheel (Swagger UI 5, which
#: reads OpenAPI 3.1) instead of a CDN: /docs must work on a machine without internet access.
DOCS_ASSETS = "/docs/static"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["status_code", "error"],
    "properties": {
        "status_code": {"type": "integer"},
        "error": {"type": "string", "description": "What is wrong, naming the parameter."},
    },
}

TASK_SCHEMA = {
    "type": "object",
    "required": ["task_id", "created_at", "callback_url", "type", "status", "instruction", "params"],
    "properties": {
        "task_id": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
        "created_at": {"type": "string", "format": "date-time"},
        "completed_at": {"type": "string", "format": "date-time"},
        "callback_url": {"type": "string"},
        "type": {"type": "string"},  # enum: the registered types (task_schema)
        "status": {"type": "string"},  # enum: Status
        "instruction": {"type": "string"},
        "urgency": {"type": "string"},  # enum: Urgency
        "params": {"type": "object"},
        "metadata": {"type": "object"},
        "project": {"type": "string", "description": "Only when the task was created with one."},
        "batch": {"type": "string", "description": "Only when the task was created with one."},
        "unique_id": {"type": "string", "description": "Only when the task was created with one."},
        "response": {"type": "object"},
        "callback_succeeded": {"type": ["boolean", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "updated_at": {"type": "string", "format": "date-time",
                       "description": "The last change (created_at until the first)."},
        "customer_review_status": {"type": "string", "enum": ["accepted", "rejected", "fixed"],
                                   "description": "Only once you audited the task; `fixed` once an "
                                                  "operator corrected a response you rejected."},
        "customer_review_comments": {"type": "array", "items": {"type": "string"}},
        "quality": {
            "type": "object", "description": "Only on tasks created with overlap, max_overlap or min_confidence, "
                                             "or whose response an operator corrected after your audit: "
                                             "how the response was made of the workers' answers.",
            "required": ["answers", "confidence", "method", "agreement"],
            "properties": {
                "answers": {"type": "integer", "description": "Answers combined."},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "method": {"type": "string", "description": "single, majority, dawid_skene, "
                                                            "text_agreement, per_category, review…"},
                "agreement": {"type": "object", "additionalProperties": {"type": "number"},
                              "description": "Per field of the response: the share of answers agreeing."},
            },
        },
    },
}

LIST_SCHEMA = {
    "type": "object",
    "required": ["docs", "total", "limit", "offset", "has_more", "next_token"],
    "properties": {
        "docs": {"type": "array", "items": TASK_SCHEMA},
        "total": {"type": "integer"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
        "has_more": {"type": "boolean"},
        "next_token": {"type": ["string", "null"]},
    },
}


def _enums() -> dict[str, list[str]]:
    """The task object's enums, read from the registry and the status enums when the routes are
    built, so a registered type is documented without naming it here."""
    return {"type": [t.name for t in REGISTRY], "status": [s.value for s in Status],
            "urgency": [u.value for u in Urgency]}


def task_schema() -> dict[str, Any]:
    schema = copy.deepcopy(TASK_SCHEMA)
    for name, values in _enums().items():
        schema["properties"][name]["enum"] = values
    return schema


def list_schema() -> dict[str, Any]:
    schema = copy.deepcopy(LIST_SCHEMA)
    schema["properties"]["docs"]["items"] = task_schema()
    return schema


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "A parameter is missing or invalid", 401: "Missing, unknown or revoked API key",
            404: "No such task (or not yours)", 409: "A task with this unique_id already exists",
            413: "Body over 1 MiB", 429: "Rate limit exceeded (see Retry-After), when one is set",
            415: "Body neither JSON nor a form",
            500: "The task is not pending (documented by the seed for cancel)"}
    return {code: {"description": text[code], **_json(ERROR_SCHEMA)} for code in codes}


def _cross_parameter_rules(schema: dict[str, Any]) -> None:
    """What the models check across parameters, where JSON Schema can say it too: attachments
    are http(s) URLs unless attachment_type is text; a comparison needs choices or fields."""
    props = schema["properties"]
    rules = []
    if "attachment_type" in props:
        urls: dict[str, Any] = {}
        if "attachment" in props:
            urls["attachment"] = HTTP_URL_SCHEMA
        if "attachments" in props:
            urls["attachments"] = {"items": HTTP_URL_SCHEMA}
        rules.append({"if": {"properties": {"attachment_type": {"const": "text"}},
                             "required": ["attachment_type"]},
                      "else": {"properties": urls}})
    if "choices" in props and "fields" in props and "choices" not in schema.get("required", []):
        rules.append({"anyOf": [
            {"required": ["choices"], "properties": {"choices": {"type": "array"}}},
            {"required": ["fields"], "properties": {"fields": {"type": "object", "minProperties": 1}}},
        ]})
    if rules:
        schema["allOf"] = rules


def create_operation(task_type: TaskType, alias_of: str | None = None) -> dict[str, Any]:
    schema = task_type.params_model.model_json_schema()
    if "$defs" in schema:  # pragma: no cover - guards the inlining below
        raise RuntimeError("params models must not need $defs")
    schema.pop("title", None)
    _cross_parameter_rules(schema)
    return {
        "summary": f"Create a {task_type.name} task" + (f" (same as /v1/task/{alias_of})" if alias_of else ""),
        "description": task_type.summary + " Accepts JSON or a url-encoded form "
        "(repeated keys or `name[]`/`name[0]` for arrays, `name[key]` for objects)."
        + (f" Later clients post here; it is the same endpoint as /v1/task/{alias_of}." if alias_of else ""),
        "tags": ["tasks"],
        "response_model": None,
        "responses": {200: {"description": "The created task", **_json(task_schema())},
                      **_errors(400, 401, 409, 413, 415, 429)},
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": schema},
                    "application/x-www-form-urlencoded": {"schema": schema},
                },
            }
        },
    }


EVALUATION_TASK_SCHEMA = {
    "type": "object",
    "required": ["task_id", "type", "status", "instruction", "urgency", "params", "metadata",
                 "expected_response", "created_at"],
    "properties": {
        "task_id": {"type": "string", "pattern": "^[0-9a-f]{24}$"},
        "type": {"type": "string"},
        "status": {"type": "string", "description": "pending until canceled (gold is never completed)."},
        "instruction": {"type": "string"},
        "urgency": {"type": "string"},
        "params": {"type": "object"},
        "metadata": {"type": "object"},
        "expected_response": {"type": "object", "description": "The answer a worker should give."},
        "created_at": {"type": "string", "format": "date-time"},
    },
}

EVALUATION_LIST_SCHEMA = {
    "type": "object",
    "required": ["docs", "total", "limit", "offset", "has_more"],
    "properties": {
        "docs": {"type": "array", "items": EVALUATION_TASK_SCHEMA},
        "total": {"type": "integer"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
        "has_more": {"type": "boolean"},
    },
}


def evaluation_create_operation(task_type: TaskType, alias_of: str | None = None) -> dict[str, Any]:
    """The type's own create parameters plus the required ``expected_response``: the same schema
    the task's create endpoint documents, so a client validates both alike."""
    op = create_operation(task_type)
    schema = copy.deepcopy(op["openapi_extra"]["requestBody"]["content"]["application/json"]["schema"])
    schema["properties"]["expected_response"] = {
        "type": "object", "description": f"The answer a worker should give, as a {task_type.name} "
                                         "task's response; checked like a worker's answer."}
    schema["required"] = [*schema.get("required", []), "expected_response"]
    # A gold task is never part of a project or batch (its answers must not count there).
    for name in ("project", "batch"):
        schema["properties"].pop(name, None)
    op["openapi_extra"]["requestBody"]["content"] = {
        "application/json": {"schema": schema}, "application/x-www-form-urlencoded": {"schema": schema}}
    op["summary"] = f"Create a {task_type.name} evaluation (gold) task" + (
        f" (same as /v1/evaluation_tasks/{alias_of})" if alias_of else "")
    op["description"] = (
        "A task with a known answer, mixed into workers' queues to measure them: never completed by "
        "answers, never sent to a callback, never in /v1/tasks. Takes the type's create parameters "
        "(no project, batch or stored file) and `expected_response`.")
    op["tags"] = ["evaluation tasks"]
    op["responses"] = {200: {"description": "The created evaluation task", **_json(EVALUATION_TASK_SCHEMA)},
                       **_errors(400, 401, 409, 413, 415, 429)}
    return op


def evaluation_list_operation() -> dict[str, Any]:
    params = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0}},
    ]
    return {"summary": "List evaluation (gold) tasks, newest first", "tags": ["evaluation tasks"],
            "response_model": None, "openapi_extra": {"parameters": params},
            "responses": {200: {"description": "A page of evaluation tasks", **_json(EVALUATION_LIST_SCHEMA)},
                          **_errors(400, 401, 429)}}


def retrieve_operation() -> dict[str, Any]:
    return {"summary": "Retrieve a task", "tags": ["tasks"], "response_model": None,
            "responses": {200: {"description": "The task", **_json(task_schema())}, **_errors(401, 404, 429)}}


def cancel_operation() -> dict[str, Any]:
    return {"summary": "Cancel a pending task", "tags": ["tasks"], "response_model": None,
            "description": "Only pending tasks can be canceled; any other status answers 500, "
                           "as the seed documents.",
            "openapi_extra": {"parameters": [{
                "name": "clear_unique_id", "in": "query", "required": False,
                "description": "true frees the task's unique_id for a new task",
                "schema": {"type": "boolean", "default": False}}]},
            "responses": {200: {"description": "The canceled task", **_json(task_schema())},
                          **_errors(400, 401, 404, 429, 500)}}


def list_operation() -> dict[str, Any]:
    params = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0}},
        {"name": "next_token", "in": "query", "schema": {"type": "string"},
         "description": "The `next_token` of the previous page."},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": _enums()["status"]}},
        {"name": "type", "in": "query", "schema": {"type": "string", "enum": _enums()["type"]}},
        {"name": "start_time", "in": "query", "schema": {"type": "string", "format": "date-time"},
         "description": "Only tasks created at or after this ISO 8601 time."},
        {"name": "end_time", "in": "query", "schema": {"type": "string", "format": "date-time"},
         "description": "Only tasks created before this ISO 8601 time."},
        {"name": "project", "in": "query", "schema": {"type": "string", "maxLength": 200},
         "description": "Only tasks created with this project."},
        {"name": "batch", "in": "query", "schema": {"type": "string", "maxLength": 200},
         "description": "Only tasks created with this batch."},
        {"name": "unique_id", "in": "query", "schema": {"type": "string", "maxLength": 200},
         "description": "The task created with this unique_id, if any (repeat it for several)."},
        {"name": "completed_after", "in": "query", "schema": {"type": "string", "format": "date-time"},
         "description": "Only tasks completed at or after this time."},
        {"name": "completed_before", "in": "query", "schema": {"type": "string", "format": "date-time"},
         "description": "Only tasks completed before this time."},
        {"name": "updated_after", "in": "query", "schema": {"type": "string", "format": "date-time"},
         "description": "Only tasks last changed at or after this time."},
        {"name": "updated_before", "in": "query", "schema": {"type": "string", "format": "date-time"},
         "description": "Only tasks last changed before this time."},
        {"name": "tags", "in": "query", "schema": {"type": "string", "maxLength": 200},
         "description": "Only tasks carrying this tag (repeat it: any of them)."},
        {"name": "customer_review_status", "in": "query", "schema": {"type": "string"},
         "description": "Comma-separated audit states: accepted, fixed, commented, rejected, pending "
                        "(completed and not audited yet)."},
    ]
    return {"summary": "List tasks, newest first", "tags": ["tasks"], "response_model": None,
            "openapi_extra": {"parameters": params},
            "responses": {200: {"description": "A page of tasks", **_json(list_schema())},
                          **_errors(400, 401, 429)}}


def _with_security(app: FastAPI):
    """The generated schema plus HTTP Basic auth on every /v1 operation (Swagger's Authorize)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {})["securitySchemes"] = {
            "apiKey": {"type": "http", "scheme": "basic",
                       "description": "Your API key as the username, an empty password."}
        }
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/v1/"):
                for operation in operations.values():
                    operation["security"] = [{"apiKey": []}]
        return schema

    return openapi


def install(app: FastAPI) -> None:
    """/openapi.json with the auth scheme, and /docs served without any CDN."""
    import fastapi_offline

    app.openapi = _with_security(app)  # type: ignore[method-assign]
    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-static")

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="Taskforce API (Scale v1)",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            # The default validator badge would fetch from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
        )

    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs/", docs, methods=["GET"], include_in_schema=False)
