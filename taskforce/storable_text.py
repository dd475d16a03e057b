"""Text the database cannot store is refused at the edge, before any query sees it.

PostgreSQL's text type cannot hold NUL, and no UTF-8 encoding exists for a lone surrogate; a
query binding either raises, which used to surface as a 500 (and SQLite stores what PostgreSQL
refuses, so the backends disagreed). One ASGI middleware checks the parts of every request that
reach queries without passing through a validator of their own: the web app's paths and query
strings, and the API's Authorization header (the API key is the Basic-auth username). Form
bodies are checked where they are parsed (``web.forms.read_form``); the API's path, query and
JSON parameters by its own validators.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from taskforce.audience import is_api_path, wants_page

#: NUL and the surrogate code points: what a PostgreSQL text column cannot hold.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


class UnstorableText(Exception):
    """A request carried text the database cannot store; answered with a 400 naming where."""

    def __init__(self, where: str) -> None:
        super().__init__(f"{where}: must not contain NUL or other characters that cannot be stored")
        self.where = where
        self.message = str(self)


def _unstorable_page_part(scope: Scope) -> str | None:
    """Where a web app request carries unstorable text (its path or query string), or None."""
    if not is_storable(scope["path"]):
        return "path"
    query = scope.get("query_string", b"")
    if query:
        # Decoded as Starlette decodes it (invalid UTF-8 becomes U+FFFD, which is storable).
        text = query.decode("latin-1")
        if not is_storable(unquote(text)):
            for name, value in parse_qsl(text, keep_blank_values=True):
                if not (is_storable(name) and is_storable(value)):
                    return name if is_storable(name) else "query string"
            return "query string"
    return None


def _api_key_storable(scope: Scope) -> bool:
    for key, value in scope.get("headers", ()):
        if key == b"authorization" and not _credentials_storable(value):
            return False
    return True


def _credentials_storable(header: bytes) -> bool:
    scheme, _, encoded = header.partition(b" ")
    if b"\x00" in header:
        return False
    if scheme.lower() != b"basic":
        return True
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return True  # not credentials at all: the API answers 401 without a query
    return b"\x00" not in decoded


class StorableTextOnly:
    """Under /v1, a key holding unstorable text is a 401 like any key that does not exist (the
    API validates its own path and query parameters before any query, and documents what it
    answers); elsewhere an unstorable path or query string is a 400 (a page for a browser).
    Costs the API one scan of its Authorization header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope) -> Response | None:
        if "\n" in scope["path"]:
            # No route has a line break, but a route's pattern ends in "$", which Python lets
            # match before a final newline: "/v1/batches/%0A" reached the list of batches, and
            # "/v1/batches/a%0A" the batch "a". Such a path names nothing.
            return _not_found(scope)
        if is_api_path(scope["path"]):
            if _api_key_storable(scope):
                return None
            from taskforce.api.errors import unauthorized

            return unauthorized("invalid API key")
        where = _unstorable_page_part(scope)
        if where is None:
            return None
        message = UnstorableText(where).message
        if not wants_page(scope):
            from taskforce.api.errors import error_response

            return error_response(400, message)
        from taskforce.web.error_pages import error_page

        # No session here (this runs before the session middleware): a page without the user.
        return error_page(Request(scope), 400, f"{message}. Please go back and try again.", user=None)


def _not_found(scope: Scope) -> Response:
    message = "no such path: a path cannot hold a line break"
    if is_api_path(scope["path"]) or not wants_page(scope):
        from taskforce.api.errors import error_response

        return error_response(404, message)
    from taskforce.web.error_pages import error_page

    return error_page(Request(scope), 404, message, user=None)
