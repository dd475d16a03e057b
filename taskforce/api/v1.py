"""The customer API, Scale v1: create, retrieve, cancel and list tasks.

Handlers are ``async def`` and do their short database work inline: measured on this machine, a
thread hand-off costs more than the ~50 µs insert it would offload (docs/decisions.md). They take
the raw ``Request`` rather than FastAPI dependencies and body models, whose per-request cost is as
large as the rest of the work; the OpenAPI schema is declared by hand from the same pydantic
models that validate, so /docs stays truthful.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from taskforce import customers, ids, json_values, request_log
from taskforce.api import bodies
from taskforce.api.errors import error_response, too_many_requests, unauthorized
from taskforce.app_state import AppState
from taskforce.clock import now_ms, parse_iso
from taskforce.customers import ApiPrincipal
from taskforce.rate_limits import RateLimiter
from taskforce.errors import (
    Conflict,
    InvalidParameter,
    NotFound,
    PayloadTooLarge,
    TaskforceError,
    Unauthorized,
    UnsupportedMediaType,
)
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import Kind, TaskType
from taskforce.tasks import creation, queries, service
from taskforce.tasks.representation import task_object
from taskforce.tasks.status import Status

_TASK_ID = re.compile(r"[0-9a-f]{24}")

#: Bytes of an over-long body we still read (and discard) so the connection stays usable.
_DRAIN_LIMIT = 16 * 1024 * 1024


def json_response(data: Any, status_code: int = 200) -> Response:
    return Response(json_values.dumps(data), status_code=status_code, media_type="application/json")


async def _drain(request: Request) -> None:
    try:
        stream = request.stream()
        received = 0
        async for chunk in stream:
            received += len(chunk)
            if received > _DRAIN_LIMIT:
                break
    except RuntimeError:  # already read: nothing left to drain
        return


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or PayloadTooLarge once it passes ``limit``; either way it is read to the end
    (up to ``_DRAIN_LIMIT``) so the kept-alive connection can carry the next request."""
    declared = request.headers.get("content-length")
    too_large = bool(declared and ids.is_ascii_number(declared) and int(declared) > limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if too_large or size > limit:
            too_large = True
            chunks.clear()
            if size > _DRAIN_LIMIT:
                break
            continue
        chunks.append(chunk)
    if too_large:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return b"".join(chunks)


def _api_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, _, _password = decoded.partition(":")
    return username.strip() or None


def _authenticate_key(state: AppState, key: str) -> ApiPrincipal:
    with state.db.read() as conn:
        principal, last_used = customers.authenticate(conn, key)
    _touch_if_stale(state, principal, last_used)
    return principal


async def _principal_or_401(request: Request) -> ApiPrincipal | Response:
    key = _api_key(request)
    if key is None:
        await _drain(request)
        return unauthorized("missing API key: send it as the HTTP Basic auth username")
    try:
        principal = _authenticate_key(request.app.state.taskforce, key)
    except Unauthorized as exc:  # a database outage is a 503, not a bad key
        await _drain(request)
        return unauthorized(exc.message)
    request_log.set_customer(request.scope, principal.customer_id)
    task_id = request.path_params.get("task_id")
    if task_id is not None and not _TASK_ID.fullmatch(task_id):
        # Not a shape we ever issue: no query (PostgreSQL would refuse a NUL in it anyway).
        await _drain(request)
        return error_response(404, f"no task with task_id {task_id!r}")
    refused = _rate_limited(request, principal)
    if refused is not None:
        await _drain(request)
        return refused
    return principal


def _authenticated(conn: Connection, request: Request, key: str) -> tuple[ApiPrincipal, int | None]:
    """The key's principal, checked inside the request's own transaction (one per request, not
    one for the key and another for the work); raises Unauthorized (a 401) or _Refused (a 429)."""
    principal, last_used = customers.authenticate(conn, key)
    request_log.set_customer(request.scope, principal.customer_id)
    refused = _rate_limited(request, principal)
    if refused is not None:
        raise _Refused(refused)
    return principal, last_used


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _stale_since(last_used: int | None) -> int | None:
    """Now, when the key's last_used_at is due to be written again; else None."""
    now = now_ms()
    if last_used is None or now - last_used > customers.LAST_USED_RESOLUTION_MS:
        return now
    return None


def _touch_if_stale(state: AppState, principal: ApiPrincipal, last_used: int | None) -> None:
    if (now := _stale_since(last_used)) is not None:
        with state.db.write() as conn:
            customers.touch_api_key(conn, principal.key_id, now=now)


async def _parse_create_body(request: Request, task_type: TaskType, limit: int,
                             kinds: Mapping[str, Kind] | None = None) -> dict[str, Any]:
    """The create body as parameters; a form is decoded by ``kinds`` (the type's own unless the
    endpoint takes more, as evaluation tasks take ``expected_response``)."""
    kinds = task_type.kinds if kinds is None else kinds
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await read_body(request, limit)
    if content_type in ("application/json", "text/json") or content_type.endswith("+json"):
        return bodies.parse_json(body)
    if content_type == "application/x-www-form-urlencoded":
        return bodies.parse_form(body, kinds)
    if content_type == "multipart/form-data":
        return await _parse_multipart(request, body, kinds, limit)
    if not content_type and not body.strip():
        return {}
    if not content_type:
        # curl -d without a type is form-encoded; so is a body with no header at all.
        return bodies.parse_form(body, kinds)
    raise UnsupportedMediaType(
        f"content type {content_type!r} is not supported: send application/json or "
        "application/x-www-form-urlencoded"
    )


async def _parse_multipart(request: Request, body: bytes, kinds: Mapping[str, Kind], limit: int) -> dict[str, Any]:
    from starlette.requests import Request as StarletteRequest

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    replay = StarletteRequest(request.scope, receive)
    try:
        form = await replay.form(max_files=0, max_fields=10_000, max_part_size=limit)
    except Exception:  # python-multipart raises several types for malformed input
        raise InvalidParameter("body", "is not a well-formed multipart form") from None
    pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return bodies.decode_pairs(pairs, kinds)


def _rate_limited(request: Request, principal: ApiPrincipal) -> Response | None:
    limiter: RateLimiter | None = getattr(request.app.state, "api_rate_limiter", None)
    if limiter is None:
        return None
    wait = limiter.wait_seconds(principal.key_id)
    if wait <= 0:
        return None
    return too_many_requests(
        f"rate limit of {limiter.rate:g} requests per second for this API key exceeded; "
        f"retry after {math.ceil(wait)} s", retry_after=math.ceil(wait))


def _create_handler(task_type: TaskType):
    async def create_task(request: Request) -> Response:
        state: AppState = request.app.state.taskforce
        key = _api_key(request)
        if key is None:
            await _drain(request)
            return unauthorized("missing API key: send it as the HTTP Basic auth username")
        # The body is read before the key is checked, so that the key's lookup and the insert
        # share one write transaction (one instead of two per create: bench/README.md). A bad
        # body's error waits until the key has passed: a bad key is a 401 whatever it sent.
        params = None
        data: dict[str, Any] = {}
        held = False
        invalid: TaskforceError | None = None
        try:
            data = await _parse_create_body(request, task_type, state.settings.max_body_bytes)
            if not creation.needs_context(data):
                params = task_type.parse(data)
        except TaskforceError as exc:
            invalid = exc
        try:
            with state.db.write() as conn:
                principal, last_used = _authenticated(conn, request, key)
                if (now := _stale_since(last_used)) is not None:
                    customers.touch_api_key(conn, principal.key_id, now=now)
                if invalid is None and params is None:
                    # A project, batch or stored file is named: checked in this transaction.
                    try:
                        params, held = creation.prepare(conn, data, customer_id=principal.customer_id,
                                                        is_test=principal.is_test, task_type=task_type)
                    except TaskforceError as exc:
                        invalid = exc
                if invalid is None:
                    row = service.create(conn, customer_id=principal.customer_id,
                                         is_test=principal.is_test, task_type=task_type,
                                         params=params)
                    if held:
                        creation.hold(conn, row["id"])
        except _Refused as refused:
            return refused.response
        except IntegrityError:
            # The only constraint a valid create can break is the customer's unique_id index.
            if params is None or params.unique_id is None:
                raise
            raise Conflict(f"unique_id: a task with unique_id {params.unique_id!r} already exists") from None
        if invalid is not None:
            raise invalid
        return json_response(task_object(row))

    create_task.__name__ = f"create_{task_type.name}_task"
    return create_task


async def retrieve_task(request: Request, task_id: str) -> Response:
    state: AppState = request.app.state.taskforce
    key = _api_key(request)
    if key is None:
        return unauthorized("missing API key: send it as the HTTP Basic auth username")
    try:
        with state.db.read() as conn:
            principal, last_used = _authenticated(conn, request, key)
            if not _TASK_ID.fullmatch(task_id):
                # Not a shape we ever issue: no query (PostgreSQL would refuse a NUL in it).
                raise NotFound(f"no task with task_id {task_id!r}")
            row = service.get(conn, task_id, customer_id=principal.customer_id,
                              is_test=principal.is_test)
    except _Refused as refused:
        return refused.response
    _touch_if_stale(state, principal, last_used)
    return json_response(task_object(row))


async def cancel_task(request: Request, task_id: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    await _drain(request)  # any body, any content type: ignored
    clear_unique_id = _bool_param(request, "clear_unique_id")
    with state.db.write() as conn:
        row = service.cancel(conn, task_id, customer_id=principal.customer_id,
                             is_test=principal.is_test, clear_unique_id=clear_unique_id)
    return json_response(task_object(row))


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False, "": False}


def _bool_param(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return False
    value = _BOOLEANS.get(raw.strip().lower())
    if value is None:
        raise InvalidParameter(name, f"must be true or false, not {raw[:50]!r}")
    return value


def _int_param(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameter(name, "must be an integer") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidParameter(name, f"must be {bound}")
    return value


def _time_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return parse_iso(raw)
    except (ValueError, OverflowError):
        raise InvalidParameter(name, "must be an ISO 8601 date or time, like 2016-06-23T09:09:34.752Z") from None


def _text_param(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    if "\x00" in raw or len(raw) > 200:
        raise InvalidParameter(name, "must be at most 200 characters, without NUL")
    return raw


def _texts_param(request: Request, name: str, *, single: bool = False) -> Any:
    """A repeated parameter (scaleapi 2.x sends a list as ``name=a&name=b``): a tuple, or with
    ``single`` one value as a plain string."""
    values = [v for v in request.query_params.getlist(name) if v]
    if not values:
        return None
    if len(values) > 100:
        raise InvalidParameter(name, "may be given at most 100 times")
    for value in values:
        if "\x00" in value or len(value) > 200:
            raise InvalidParameter(name, "must be at most 200 characters, without NUL")
    if single and len(values) == 1:
        return values[0]
    return tuple(values)


#: The audit states scaleapi 2.x filters by; only accepted and rejected are ever recorded here.
REVIEW_STATUSES = ("accepted", "fixed", "commented", "rejected", "pending")


def _review_param(request: Request) -> tuple[str, ...] | None:
    # 2.x joins several with commas.
    raw = ",".join(request.query_params.getlist("customer_review_status"))
    values = tuple(v.strip() for v in raw.split(",") if v.strip())
    for value in values:
        if value not in REVIEW_STATUSES:
            raise InvalidParameter("customer_review_status", "must be one or more (comma-separated) of "
                                   + ", ".join(REVIEW_STATUSES))
    return values or None


def _choice_param(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    if raw not in allowed:
        raise InvalidParameter(name, "must be one of " + ", ".join(allowed))
    return raw


async def list_tasks(request: Request) -> Response:
    state: AppState = request.app.state.taskforce
    key = _api_key(request)
    if key is None:
        return unauthorized("missing API key: send it as the HTTP Basic auth username")
    # Parameters are checked first but answered for only once the key has passed: a bad key is
    # a 401 whatever the query says.
    invalid: TaskforceError | None = None
    try:
        filters = dict(
            status=_choice_param(request, "status", tuple(s.value for s in Status)),
            type=_choice_param(request, "type", tuple(t.name for t in REGISTRY)),
            start_ms=_time_param(request, "start_time"),
            end_ms=_time_param(request, "end_time"),
            project=_text_param(request, "project"),
            batch=_text_param(request, "batch"),
            unique_id=_texts_param(request, "unique_id", single=True),
            completed_after_ms=_time_param(request, "completed_after"),
            completed_before_ms=_time_param(request, "completed_before"),
            updated_after_ms=_time_param(request, "updated_after"),
            updated_before_ms=_time_param(request, "updated_before"),
            tags=_texts_param(request, "tags"),
            customer_review_status=_review_param(request),
        )
        limit = _int_param(request, "limit", queries.MAX_LIMIT, 1, queries.MAX_LIMIT)
        offset = _int_param(request, "offset", 0, 0, 1_000_000)
    except TaskforceError as exc:
        invalid = exc
    token = request.query_params.get("next_token") or None
    try:
        with state.db.read() as conn:
            principal, last_used = _authenticated(conn, request, key)
            if invalid is None:
                task_filter = queries.TaskFilter(customer_id=principal.customer_id,
                                                 is_test=principal.is_test, **filters)
                page = queries.list_page(conn, task_filter, limit=limit, offset=offset,
                                         next_token=token)
    except _Refused as refused:
        return refused.response
    _touch_if_stale(state, principal, last_used)
    if invalid is not None:
        raise invalid
    return json_response({
        "docs": [task_object(r) for r in page.rows],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "has_more": page.has_more,
        "next_token": page.next_token,
    })


async def unknown_task_type(request: Request, name: str) -> Response:
    await _drain(request)
    known = ", ".join(sorted(REGISTRY.by_endpoint))
    return error_response(404, f"Not found: no task type {name!r}; create tasks at /v1/task/<type> with <type> one of {known}")


def _add(router: APIRouter, path: str, endpoint, methods: list[str], **kwargs: Any) -> None:
    """Each route answers on the plain path and with a trailing slash, never by redirect."""
    router.add_api_route(path, endpoint, methods=methods, **kwargs)
    kwargs["include_in_schema"] = False
    router.add_api_route(path + "/", endpoint, methods=methods, **kwargs)


def build_router() -> APIRouter:
    from taskforce.api import openapi

    router = APIRouter(prefix="/v1", redirect_slashes=False)
    for task_type in REGISTRY:
        for i, endpoint in enumerate(task_type.endpoints):
            _add(router, f"/task/{endpoint}", _create_handler(task_type), ["POST"],
                 **openapi.create_operation(task_type, alias_of=task_type.endpoints[0] if i else None))
    _add(router, "/task/{task_id}", retrieve_task, ["GET"], **openapi.retrieve_operation())
    _add(router, "/task/{task_id}/cancel", cancel_task, ["POST"], **openapi.cancel_operation())
    _add(router, "/tasks", list_tasks, ["GET"], **openapi.list_operation())
    _add(router, "/task/{name}", unknown_task_type, ["POST"], include_in_schema=False)
    return router


def install(app: FastAPI) -> None:
    from taskforce.api import openapi

    settings = app.state.taskforce.settings
    if settings.api_rate_limit_per_second > 0:
        app.state.api_rate_limiter = RateLimiter(settings.api_rate_limit_per_second,
                                                 settings.api_rate_limit_burst)
    app.include_router(build_router())
    from taskforce.api import evaluation_api  # gold tasks (quality/gold.py)

    app.include_router(evaluation_api.build_router())
    openapi.install(app)
