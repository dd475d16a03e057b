"""Gold tasks through the API, under Scale's later name: ``POST /v1/evaluation_tasks/{type}``
(the type's own parameters plus ``expected_response``) and ``GET /v1/evaluation_tasks``.

They are the customer's, in the key's mode, and live apart from ``/v1/tasks``: gold tasks are
never in that list nor its total, never completed by answers and never sent to a callback."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from taskforce.api import openapi, v1
from taskforce.api.errors import error_response
from taskforce.app_state import AppState
from taskforce.errors import Conflict, InvalidParameter
from taskforce.quality import gold
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import TaskType
from taskforce.tasks import creation


def _create_handler(task_type: TaskType):
    async def create(request: Request) -> Response:
        return await _create(request, task_type)

    return create


async def unknown_evaluation_type(request: Request, name: str) -> Response:
    """A type without gold (or none at all): 401 without a key, else 404 naming the types."""
    principal = await v1._principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    task_type = REGISTRY.by_endpoint.get(name)
    if task_type is not None:  # a registered type that cannot be gold: gold.create says why
        return await _create(request, task_type, principal)
    await v1._drain(request)
    known = ", ".join(sorted(e for t in REGISTRY if gold.supports_gold(t) for e in t.endpoints))
    return error_response(404, f"Not found: no task type {name!r}; create evaluation tasks at "
                               f"/v1/evaluation_tasks/<type> with <type> one of {known}")


async def _create(request: Request, task_type: TaskType, principal=None) -> Response:
    state: AppState = request.app.state.taskforce
    if principal is None:
        principal = await v1._principal_or_401(request)
        if isinstance(principal, Response):
            return principal
    # A form carries expected_response too (``expected_response[category]=…``, or its JSON as
    # one value), as /openapi.json documents: decoded like any free-form object parameter.
    kinds = {**task_type.kinds, "expected_response": "object"}
    data = dict(await v1._parse_create_body(request, task_type, state.settings.max_body_bytes, kinds))
    expected = data.pop("expected_response", None)
    if creation.needs_context(data):
        raise InvalidParameter("project", "evaluation tasks take no project, batch or stored file")
    params = task_type.parse(data)
    try:
        with state.db.write() as conn:
            row = gold.create(conn, customer_id=principal.customer_id, is_test=principal.is_test,
                              task_type=task_type, params=params, expected=expected)
    except IntegrityError:
        raise Conflict(f"unique_id: a task with unique_id {params.unique_id!r} already exists") from None
    return v1.json_response(gold.evaluation_object(row))


async def list_evaluation_tasks(request: Request) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await v1._principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    limit = v1._int_param(request, "limit", 100, 1, 100)
    offset = v1._int_param(request, "offset", 0, 0, 1_000_000)
    with state.db.read() as conn:
        rows, total = gold.list_for(conn, customer_id=principal.customer_id, is_test=principal.is_test,
                                    limit=limit, offset=offset)
    return v1.json_response({"docs": [gold.evaluation_object(r) for r in rows], "total": total,
                             "limit": limit, "offset": offset, "has_more": offset + len(rows) < total})


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", redirect_slashes=False)
    # One documented operation per type that takes gold, like the create endpoints; any other
    # name reaches the hidden catch-all.
    for task_type in REGISTRY:
        if not gold.supports_gold(task_type):
            continue
        for i, endpoint in enumerate(task_type.endpoints):
            v1._add(router, f"/evaluation_tasks/{endpoint}", _create_handler(task_type), ["POST"],
                    **openapi.evaluation_create_operation(task_type, task_type.endpoints[0] if i else None))
    v1._add(router, "/evaluation_tasks", list_evaluation_tasks, ["GET"], **openapi.evaluation_list_operation())
    v1._add(router, "/evaluation_tasks/{name}", unknown_evaluation_type, ["POST"], include_in_schema=False)
    return router
