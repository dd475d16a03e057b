"""Batches (scaleapi 2.x).

    POST /v1/batches                       {project, name, callback, metadata}
    GET  /v1/batches                       ?project=&status=&start_time=&end_time=&limit=&offset=
    GET  /v1/batches/{name}
    POST /v1/batches/{name}/finalize       the held tasks become workable
    GET  /v1/batches/{name}/status         {status, pending, completed, canceled, error}
    POST /v1/batches/{name}/setMetadata    the metadata object itself
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from taskforce import batches, pg_wakeups, projects, signals
from taskforce.api import schemas
from taskforce.api.payloads import read_json, read_object
from taskforce.api.projects_api import path_name
from taskforce.api.v1 import (
    _add,
    _choice_param,
    _drain,
    _int_param,
    _principal_or_401,
    _text_param,
    _time_param,
    json_response,
)
from taskforce.app_state import AppState
from taskforce.clock import now_ms
from taskforce.errors import InvalidParameter
from taskforce.task_types.base import is_http_url

_CREATE_KINDS = {"project": "scalar", "name": "scalar", "callback": "scalar", "metadata": "object",
                 "calibration_batch": "bool", "self_label_batch": "bool"}


async def create_batch(request: Request) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    data = await read_object(request, _CREATE_KINDS, state.settings.max_body_bytes)
    name = projects.check_new_name(data.get("name"), "name")
    project = projects.check_name(data.get("project"), "project")
    callback = data.get("callback") or ""
    if not isinstance(callback, str) or (callback and not is_http_url(callback)):
        raise InvalidParameter("callback", "must be an absolute http:// or https:// URL (email "
                                           "notification is not offered)")
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidParameter("metadata", "must be a JSON object")
    with state.db.write() as conn:
        projects.get(conn, project, customer_id=principal.customer_id, is_test=principal.is_test)
        row = batches.create(conn, customer_id=principal.customer_id, is_test=principal.is_test,
                             name=name, project=project, callback=callback, metadata=metadata, now=now_ms())
    return json_response(batches.batch_object(row))


async def list_batches(request: Request) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    limit = _int_param(request, "limit", batches.MAX_LIMIT, 1, batches.MAX_LIMIT)
    offset = _int_param(request, "offset", 0, 0, 1_000_000)
    filters = dict(status=_choice_param(request, "status", batches.STATUSES),
                   project=_text_param(request, "project"),
                   start_ms=_time_param(request, "start_time"), end_ms=_time_param(request, "end_time"))
    with state.db.read() as conn:
        rows, total = batches.list_page(conn, customer_id=principal.customer_id, is_test=principal.is_test,
                                        limit=limit, offset=offset, **filters)
    return json_response({"docs": [batches.batch_object(r) for r in rows], "totalDocs": total,
                          "limit": limit, "offset": offset, "has_more": offset + len(rows) < total})


async def get_batch(request: Request, name: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    with state.db.read() as conn:
        row = batches.get(conn, path_name(name), customer_id=principal.customer_id, is_test=principal.is_test)
    return json_response(batches.batch_object(row))


async def batch_status(request: Request, name: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    with state.db.read() as conn:
        row = batches.get(conn, path_name(name), customer_id=principal.customer_id, is_test=principal.is_test)
        found = batches.counts(conn, row)
    return json_response({"status": row["status"], **found})


async def finalize_batch(request: Request, name: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    await _drain(request)  # any body: ignored
    with state.db.write() as conn:
        row = batches.finalize(conn, path_name(name), customer_id=principal.customer_id,
                               is_test=principal.is_test, now=now_ms())
        # Held test tasks are now the simulated worker's; an empty batch's callback is due.
        pg_wakeups.wake(conn, signals.TEST_TASK_CREATED)
        pg_wakeups.wake(conn, signals.TASK_COMPLETED)
    return json_response(batches.batch_object(row))


async def set_batch_metadata(request: Request, name: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    data = await read_json(request, state.settings.max_body_bytes)
    with state.db.write() as conn:
        row = batches.set_metadata(conn, path_name(name), data, customer_id=principal.customer_id,
                                   is_test=principal.is_test)
    return json_response(batches.batch_object(row))


_CREATE_BODY = {
    "type": "object", "required": ["project", "name"],
    "properties": {
        "project": {"type": "string", "maxLength": 200, "description": "An existing project's name."},
        "name": {"type": "string", "maxLength": 200,
                 "description": "Not ending in '/', without a line break, not '.' or '..' (its URL must name it)."},
        "callback": {"type": "string", "description": "http(s) URL POSTed (signed, like task "
                                                      "callbacks) once every task of the batch is final."},
        "metadata": {"type": "object", "additionalProperties": True},
    },
}
_LIST_QUERY = [
    {"name": "project", "in": "query", "schema": {"type": "string", "maxLength": 200}},
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": list(batches.STATUSES)}},
    {"name": "start_time", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "end_time", "in": "query", "schema": {"type": "string", "format": "date-time"}},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 100}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", redirect_slashes=False)
    _add(router, "/batches", create_batch, ["POST"], **schemas.operation(
        "Create a batch", "batches", "The batch (staging)", schemas.BATCH, 400, 401, 404, 409, 413, 415,
        body=schemas.json_body(_CREATE_BODY, form=True),
        description="Tasks created with `batch=NAME` wait (no worker sees them) until the batch is "
                    "finalized. A duplicate name is 409; an unknown project 404."))
    _add(router, "/batches", list_batches, ["GET"], **schemas.operation(
        "List batches, newest first", "batches", "A page of batches", schemas.BATCH_LIST, 400, 401,
        query=_LIST_QUERY))
    _add(router, "/batches/{name:path}/finalize", finalize_batch, ["POST"], **schemas.operation(
        "Finalize a batch", "batches", "The batch", schemas.BATCH, 400, 401, 404,
        description="Its tasks become workable; finalizing again changes nothing."))
    _add(router, "/batches/{name:path}/status", batch_status, ["GET"], **schemas.operation(
        "A batch's status and task counts", "batches", "Status and counts", schemas.BATCH_STATUS, 400, 401, 404))
    _add(router, "/batches/{name:path}/setMetadata", set_batch_metadata, ["POST"], **schemas.operation(
        "Replace a batch's metadata", "batches", "The batch", schemas.BATCH, 400, 401, 404, 413, 415,
        body=schemas.json_body({"type": "object", "additionalProperties": True})))
    _add(router, "/batches/{name:path}", get_batch, ["GET"], **schemas.operation(
        "Retrieve a batch", "batches", "The batch", schemas.BATCH, 400, 401, 404))
    return router


def install(app: FastAPI) -> None:
    app.include_router(build_router())
