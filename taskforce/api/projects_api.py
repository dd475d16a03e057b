"""Projects (scaleapi 2.x): create, list, retrieve, and set the defaults of a project's tasks.

    POST /v1/projects                    {type, name, params}
    GET  /v1/projects                    every project, oldest first (a bare array, as 2.x reads it)
    GET  /v1/projects/{name}
    POST /v1/projects/{name}/setParams   {param: value, …} merged over the params (null removes)
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from taskforce import projects
from taskforce.api import schemas
from taskforce.api.payloads import read_json, read_object
from taskforce.api.v1 import _add, _principal_or_401, json_response
from taskforce.app_state import AppState
from taskforce.clock import now_ms

_CREATE_KINDS = {"type": "scalar", "name": "scalar", "params": "object"}


def path_name(name: str) -> str:
    """A name from a ``{name:path}`` segment: ``/v1/projects/x/`` means project ``x`` (every
    path also answers with a trailing slash)."""
    return projects.check_name(name[:-1] if name.endswith("/") else name, "name")


async def create_project(request: Request) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    data = await read_object(request, _CREATE_KINDS, state.settings.max_body_bytes)
    name = projects.check_new_name(data.get("name"))
    type_name = projects.check_type(data.get("type"))
    params = projects.check_params(data.get("params"))
    with state.db.write() as conn:
        row = projects.create(conn, customer_id=principal.customer_id, is_test=principal.is_test,
                              name=name, type_name=type_name, params=params, now=now_ms())
    return json_response(projects.project_object(row))


async def list_projects(request: Request) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    with state.db.read() as conn:
        rows = projects.list_all(conn, customer_id=principal.customer_id, is_test=principal.is_test)
    return json_response([projects.project_object(r) for r in rows])


async def get_project(request: Request, name: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    with state.db.read() as conn:
        row = projects.get(conn, path_name(name), customer_id=principal.customer_id,
                           is_test=principal.is_test)
    return json_response(projects.project_object(row))


async def set_params(request: Request, name: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    data = await read_json(request, state.settings.max_body_bytes)
    # 2.x posts the params themselves; {"params": {...}} is read the same.
    if isinstance(data, dict) and set(data) == {"params"} and isinstance(data["params"], dict):
        data = data["params"]
    changes = projects.check_params(data, "body")
    with state.db.write() as conn:
        row = projects.set_params(conn, path_name(name), changes,
                                  customer_id=principal.customer_id, is_test=principal.is_test, now=now_ms())
    return json_response(projects.project_object(row))


_CREATE_BODY = {
    "type": "object", "required": ["type", "name"],
    "properties": {
        "type": {"type": "string", "enum": ["categorization", "transcription", "phonecall", "comparison"]},
        "name": {"type": "string", "maxLength": 200,
                 "description": "Not ending in '/', without a line break, not '.' or '..' (its URL must name it)."},
        "params": {"type": "object", "additionalProperties": True,
                   "description": "Defaults for the project's tasks (any create parameter but "
                                  "project, batch and unique_id); a task's own parameters win."},
    },
}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", redirect_slashes=False)
    _add(router, "/projects", create_project, ["POST"], **schemas.operation(
        "Create a project", "projects", "The project", schemas.PROJECT, 400, 401, 409, 413, 415,
        body=schemas.json_body(_CREATE_BODY, form=True),
        description="A second project with the same name is 409. Projects are per customer and mode."))
    _add(router, "/projects", list_projects, ["GET"], **schemas.operation(
        "List projects", "projects", "Every project, oldest first",
        {"type": "array", "items": schemas.PROJECT}, 401))
    # {name:path}: scaleapi 2.x quotes "/" in names as %2F, which arrives decoded.
    _add(router, "/projects/{name:path}/setParams", set_params, ["POST"], **schemas.operation(
        "Set a project's task defaults", "projects", "The project", schemas.PROJECT, 400, 401, 404, 413, 415,
        body=schemas.json_body({"type": "object", "additionalProperties": True}),
        description="Merged over the current params as a new version; a null removes a parameter."))
    _add(router, "/projects/{name:path}", get_project, ["GET"], **schemas.operation(
        "Retrieve a project", "projects", "The project", schemas.PROJECT, 400, 401, 404))
    return router


def install(app: FastAPI) -> None:
    app.include_router(build_router())
