"""One log line per request, the request id, and the process's log format.

The line names the method, the route *template* (``/v1/task/{task_id}``, never the path a client
typed, so it cannot carry a secret or blow up a log index), the status, the duration, the request
id and, once an API key has been checked, the customer id. It never holds a header, a body, a
query string, an API key, a password or a cookie: only the fields below are ever written.

``X-Request-Id`` is taken from the request when it is a sane token (so a proxy's id carries
through) and made up otherwise; the response always returns it. The same middleware feeds the
request metrics (metrics.py), so a request is timed once.

``TASKFORCE_LOG_FORMAT=json`` writes one JSON object per line for log shippers; the default is
readable text. The dispatcher and the simulated worker log through ``log_event`` the same way.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskforce import metrics

log = logging.getLogger("taskforce.request")

#: Where the API's authentication leaves the customer id for the request's log line.
_CUSTOMER = "taskforce.customer_id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def set_customer(scope: Scope, customer_id: int) -> None:
    scope[_CUSTOMER] = customer_id


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            try:
                given = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if _REQUEST_ID.fullmatch(given):
                return given
            break
    return secrets.token_hex(12)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


def log_event(logger: logging.Logger, message: str, level: int = logging.INFO, **fields: Any) -> None:
    """A log line with named fields: ``key=value`` after the message in text, keys in JSON."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": fields})


class RequestLog:
    """A pure ASGI middleware: times the request, logs it, counts it, carries its id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope["headers"])
        header = (b"x-request-id", request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            metrics.observe_request(scope["method"], route, status, seconds)
            log_event(log, "request", method=scope["method"], route=route, status=status,
                      duration_ms=round(seconds * 1000, 1), request_id=request_id,
                      customer_id=scope.get(_CUSTOMER))


def install(app) -> None:
    """Around the whole app, outside Starlette's ServerErrorMiddleware too (``add_middleware``
    puts a middleware inside it): an exception raised past the app is answered by that middleware
    with a 500, which must carry ``X-Request-Id`` and be logged with its real status like any
    other response."""
    build = app.build_middleware_stack

    def build_with_request_log() -> ASGIApp:
        return RequestLog(build())

    app.build_middleware_stack = build_with_request_log  # type: ignore[method-assign]


# -- formats -----------------------------------------------------------------------------------


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


JsonFormatter.converter = time.gmtime
TextFormatter.converter = time.gmtime

_HANDLER_NAME = "taskforce"


def configure_logging(fmt: str = "text", level: int | str = logging.INFO) -> None:
    """Send Taskforce's logs to stderr as text or JSON lines; calling again replaces the handler."""
    if fmt not in ("text", "json"):
        raise ValueError(f"TASKFORCE_LOG_FORMAT must be text or json, not {fmt!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
