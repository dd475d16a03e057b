"""Errors answered as pages in the app's look for a browser; ``/v1/…`` keeps its JSON errors.

The JSON handlers of api/errors.py stay the answer for the API and for any client that is not a
browser: each handler here asks ``audience.wants_page`` first and hands the others back
unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from taskforce.api import errors as api_errors
from taskforce.errors import TaskforceError
from taskforce.audience import wants_page
from taskforce.storable_text import UnstorableText

log = logging.getLogger(__name__)

#: What a page says for the errors the web app meets; any other status gets the first line.
UNDERSTOOD = "That request could not be completed. Please go back and try again."
MESSAGES = {
    404: "There is no such page.",
    405: "This page cannot be opened that way.",
    429: "Too many requests. Please wait a little and try again.",
    500: "Something went wrong on our side. Please try again in a moment.",
    503: "The service is briefly unavailable. Please try again in a moment.",
}


def error_page(request: Request, status_code: int, message: str | None = None, **context: Any) -> Response:
    from taskforce.web.templating import render

    return render(request, "error.html", status_code=status_code,
                  message=message or MESSAGES.get(status_code, UNDERSTOOD), **context)


def _user_or_none(request: Request) -> dict[str, Any] | None:
    """The signed-in user for the page's header, unless looking them up is what failed."""
    from taskforce.web import sessions

    try:
        return sessions.current_user(request)
    except Exception:  # noqa: BLE001 - an error page must render even with the database down
        return None


def install(app: FastAPI) -> None:
    """Registered after api_errors.install: these replace its handlers and defer to them for /v1."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not wants_page(request.scope):
            return await api_errors.http_error(request, exc)
        response = error_page(request, exc.status_code, user=_user_or_none(request))
        for name, value in (getattr(exc, "headers", None) or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(TaskforceError)
    async def _domain(request: Request, exc: TaskforceError) -> Response:
        if not wants_page(request.scope):
            return await api_errors.domain_error(request, exc)
        return error_page(request, exc.status_code, user=_user_or_none(request))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if not wants_page(request.scope):
            return await api_errors.validation_error(request, exc)
        return error_page(request, 400, user=_user_or_none(request))

    @app.exception_handler(UnstorableText)
    async def _unstorable(request: Request, exc: UnstorableText) -> Response:
        # Raised by web.forms.read_form for a form body; the path and query were checked earlier.
        if not wants_page(request.scope):
            return api_errors.error_response(400, exc.message)
        return error_page(request, 400, "The form held characters that cannot be stored (such as "
                                        "NUL). Please go back and try again.", user=_user_or_none(request))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if not wants_page(request.scope):
            return await api_errors.unexpected_error(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_page(request, 500, user=None)
