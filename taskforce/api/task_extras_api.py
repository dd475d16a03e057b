"""What scaleapi 2.x changes on an existing task.

    POST   /v1/task/{task_id}/setMetadata   the metadata object itself
    POST   /v1/task/{task_id}/tags          a JSON array of tags: replaces them
    PUT    /v1/task/{task_id}/tags          adds them
    DELETE /v1/task/{task_id}/tags          removes them
    POST   /v1/task/{task_id}/unique_id     {unique_id}: sets it (409 if taken)
    DELETE /v1/task/{task_id}/unique_id     clears it
    POST   /v1/task/{task_id}/audit         {accepted, comments}: the customer's verdict
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from taskforce.api import schemas
from taskforce.api.payloads import read_json, read_object
from taskforce.api.v1 import _add, _drain, _principal_or_401, json_response
from taskforce.app_state import AppState
from taskforce.customers import ApiPrincipal
from taskforce.errors import InvalidParameter
from taskforce.task_types.base import Label
from taskforce.tasks import extras
from taskforce.tasks import tags as task_tags
from taskforce.tasks.representation import task_object

Change = Callable[[Any, str, ApiPrincipal, Any], dict[str, Any]]


def _handler(read: Callable[[Request, int], Awaitable[Any]], change: Change):
    async def handle(request: Request, task_id: str) -> Response:
        state: AppState = request.app.state.taskforce
        principal = await _principal_or_401(request)
        if isinstance(principal, Response):
            return principal
        data = await read(request, state.settings.max_body_bytes)
        with state.db.write() as conn:
            row = change(conn, task_id, principal, data)
        return json_response(task_object(row))

    return handle


async def _no_body(request: Request, limit: int) -> None:
    await _drain(request)


def _set_metadata(conn, task_id, p, data):
    return extras.set_metadata(conn, task_id, data, customer_id=p.customer_id, is_test=p.is_test)


def _tags(change: extras.TagChange) -> Change:
    def apply(conn, task_id, p, data):
        return extras.change_tags(conn, task_id, task_tags.checked(data), change,
                                  customer_id=p.customer_id, is_test=p.is_test)
    return apply


async def _read_unique_id(request: Request, limit: int) -> dict[str, Any]:
    return await read_object(request, {"unique_id": "scalar"}, limit)


def _set_unique_id(conn, task_id, p, data):
    value = data.get("unique_id")
    from pydantic import TypeAdapter, ValidationError

    try:
        value = TypeAdapter(Label).validate_python(value)
    except ValidationError:
        raise InvalidParameter("unique_id", "is required: a non-empty string of at most 200 characters, "
                                            "without NUL") from None
    return extras.set_unique_id(conn, task_id, value, customer_id=p.customer_id, is_test=p.is_test)


def _clear_unique_id(conn, task_id, p, data):
    return extras.set_unique_id(conn, task_id, None, customer_id=p.customer_id, is_test=p.is_test)


async def _read_audit(request: Request, limit: int) -> dict[str, Any]:
    return await read_object(request, {"accepted": "bool", "comments": "scalar"}, limit)


def _audit(conn, task_id, p, data):
    accepted = data.get("accepted")
    if not isinstance(accepted, bool):
        raise InvalidParameter("accepted", "is required: true or false")
    comments = data.get("comments")
    if comments is not None and (not isinstance(comments, str) or "\x00" in comments
                                 or len(comments) > extras.COMMENT_LENGTH):
        raise InvalidParameter("comments", f"must be a string of at most {extras.COMMENT_LENGTH} "
                                           "characters, without NUL")
    return extras.audit(conn, task_id, accepted, comments or None, customer_id=p.customer_id,
                        is_test=p.is_test)


_TAGS_BODY = schemas.json_body({"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 100})
_OBJECT_BODY = schemas.json_body({"type": "object", "additionalProperties": True})


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", redirect_slashes=False)
    task = schemas.TASK

    def op(summary: str, *codes: int, **kwargs: Any) -> dict[str, Any]:
        return schemas.operation(summary, "tasks", "The task", task, *codes, **kwargs)

    _add(router, "/task/{task_id}/setMetadata", _handler(read_json, _set_metadata), ["POST"],
         **op("Replace a task's metadata", 400, 401, 404, 413, 415, body=_OBJECT_BODY))
    _add(router, "/task/{task_id}/tags", _handler(read_json, _tags("set")), ["POST"],
         **op("Set a task's tags", 400, 401, 404, 413, 415, body=_TAGS_BODY))
    _add(router, "/task/{task_id}/tags", _handler(read_json, _tags("add")), ["PUT"],
         **op("Add tags to a task", 400, 401, 404, 413, 415, body=_TAGS_BODY))
    _add(router, "/task/{task_id}/tags", _handler(read_json, _tags("remove")), ["DELETE"],
         **op("Remove tags from a task", 400, 401, 404, 413, 415, body=_TAGS_BODY))
    _add(router, "/task/{task_id}/unique_id", _handler(_read_unique_id, _set_unique_id), ["POST"],
         **op("Set a task's unique_id", 400, 401, 404, 409, 413, 415, body=schemas.json_body(
             {"type": "object", "required": ["unique_id"],
              "properties": {"unique_id": {"type": "string", "maxLength": 200}}}, form=True)))
    _add(router, "/task/{task_id}/unique_id", _handler(_no_body, _clear_unique_id), ["DELETE"],
         **op("Clear a task's unique_id", 401, 404))
    _add(router, "/task/{task_id}/audit", _handler(_read_audit, _audit), ["POST"],
         **op("Audit a completed task", 400, 401, 404, 409, 413, 415, body=schemas.json_body(
             {"type": "object", "required": ["accepted"],
              "properties": {"accepted": {"type": "boolean"}, "comments": {"type": ["string", "null"]}}},
             form=True),
             description="Records your verdict (`customer_review_status`: accepted or rejected) and "
                         "comments (`customer_review_comments`); only completed tasks (else 409). A "
                         "rejected task goes to the operators' review: a corrected response sets "
                         "`customer_review_status` to `fixed` and is sent to the callback again."))
    return router


def install(app: FastAPI) -> None:
    app.include_router(build_router())
