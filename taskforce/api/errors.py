"""Every API error is ``{"status_code": N, "error": "…"}`` (the seed's error shape)."""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from taskforce.errors import TaskforceError

log = logging.getLogger(__name__)

_REASONS = {
    400: "Bad request",
    401: "Unauthorized: a valid API key is required (HTTP Basic auth, the key as the username)",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported content type",
    429: "Too many requests",
    500: "Internal server error",
}

#: What nginx logs for a client that closed its connection before the answer: not a status any
#: client receives (there is nobody to receive it), only what the request log and metrics record.
CLIENT_CLOSED_REQUEST = 499


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps({"status_code": status_code, "error": message}),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def unauthorized(message: str) -> Response:
    return error_response(401, message, {"WWW-Authenticate": 'Basic realm="Taskforce API"'})


def too_many_requests(message: str, retry_after: int) -> Response:
    return error_response(429, message, {"Retry-After": str(max(1, retry_after))})


async def domain_error(request: Request, exc: TaskforceError) -> Response:
    if exc.status_code == 401:
        return unauthorized(exc.message)
    return error_response(exc.status_code, exc.message)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else None
    message = _REASONS.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail in (None, "Not Found"):
        message = f"Not found: no such endpoint {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    elif detail:
        message = detail
    return error_response(exc.status_code, message, getattr(exc, "headers", None))


async def validation_error(request: Request, exc: RequestValidationError) -> Response:
    err = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
    name = loc[0] if loc else "request"
    return error_response(400, f"{name}: {err.get('msg', 'is invalid')}")


async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
    """The client closed its connection before its body arrived (it gave up, or ``serve``'s
    body deadline closed it). Not our error: it used to be a 500 in the request log and the
    metrics, with two tracebacks in the log, for every client that hung up mid-upload."""
    log.info("client closed the connection before sending its whole body: %s %s",
             request.method, request.url.path)
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal server error")


def install(app: FastAPI) -> None:
    """JSON for every error (web/error_pages.py then answers the web app's paths with pages)."""
    app.add_exception_handler(TaskforceError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(Exception, unexpected_error)
