"""The web pages' one set of form helpers: the one-time message (flash), rendering a page with
it, reading a posted form, its CSRF check, and the page a stale form gets.

``read_form`` is the only way a view reads a body: it refuses text the database cannot store
(``UnstorableText``, answered by web/error_pages.py with a 400 page) before any view sees it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.responses import Response

from taskforce.storable_text import UnstorableText, is_storable
from taskforce.web import sessions
from taskforce.web.templating import render

STALE_MESSAGE = "Your session expired or the form was stale; please go back and try again."


class StaleForm(Exception):
    """The form's CSRF token is missing or stale; web/routes.py answers it with ``stale_form``."""


def flash(request: Request, message: str, kind: str = "info") -> None:
    """A one-line message for the next page this session opens."""
    request.session["flash"] = [message[:500], kind]


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """Render with the one-time message left by the previous request, if any."""
    message = request.session.pop("flash", None)
    if message and "flash" not in context:
        context["flash"], context["flash_kind"] = message
    return render(request, name, status_code=status_code, **context)


async def read_form(request: Request) -> FormData:
    form = await request.form()
    for name, value in form.multi_items():
        if not is_storable(name) or (isinstance(value, str) and not is_storable(value)):
            raise UnstorableText(name if is_storable(name) else "form")
    return form


def csrf_ok(request: Request, form: FormData) -> bool:
    return sessions.csrf_ok(request, form.get("csrf_token"))


async def checked_form(request: Request) -> dict[str, str]:
    """The form's text fields, or ``StaleForm`` when its CSRF token is not this session's."""
    form = await read_form(request)
    if not csrf_ok(request, form):
        raise StaleForm()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def text(form: FormData | dict[str, str], name: str, limit: int = 1000) -> str:
    """A text field, cut to ``limit``; "" when absent or a file."""
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def stale_form(request: Request) -> Response:
    return render(request, "error.html", status_code=400, message=STALE_MESSAGE)
