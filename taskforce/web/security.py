"""Headers every response carries: a strict Content-Security-Policy (no inline scripts), no
framing of our pages, no MIME sniffing. A pure ASGI middleware: it costs the API nothing but a
few header tuples."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskforce.config import Settings

#: Attachments are the customer's http(s) URLs: images, media, PDFs and websites load from them,
#: inside sandboxed frames; scripts and styles only ever come from our own origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' http: https:; "
    "media-src http: https:; frame-src http: https:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI at /docs needs its own inline bootstrap script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)

_COMMON = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._default = [(b"content-security-policy", CSP.encode()), *_COMMON]
        self._docs = [(b"content-security-policy", DOCS_CSP.encode()), *_COMMON]
        self._files = [(b"referrer-policy", b"same-origin")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        # /files/ answers with the customer's bytes and its own sandboxing headers (files/serving.py).
        extra = self._docs if path.startswith("/docs") else self._files if path.startswith("/files/") else self._default

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Outside Starlette's ServerErrorMiddleware (``add_middleware`` puts a middleware inside it),
    so the 500 it answers an uncaught exception with carries these headers too."""
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build())

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
