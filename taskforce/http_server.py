"""How ``taskforce serve`` runs uvicorn: which proxies' forwarded headers it believes, and how
long a client may take to send a request before its connection is closed.

uvicorn closes an idle kept-alive connection (``timeout_keep_alive``) but sets no deadline on a
request being sent: a client that connects and sends nothing, or trickles its headers or body a
few bytes a second, holds its connection (and a file descriptor, and for a body a task waiting in
the app) for as long as it likes. ``DeadlineHttpToolsProtocol`` gives each request two deadlines:
its headers within ``header_timeout`` of the connection opening (or of the previous response, on a
kept-alive connection), and its body within ``body_timeout`` of the headers. Past either, the
connection is closed. A reverse proxy in front does the same with its own timeouts
(README, Deployment).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from taskforce.config import Settings


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a body deadline per request."""

    #: Set from the settings by ``configure`` in each server process (class attributes: uvicorn
    #: makes the protocol from its class, and its worker processes import it by name).
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        cls.header_timeout = settings.header_timeout_seconds
        cls.body_timeout = settings.body_timeout_seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # Until on_message_complete: a request without a body completes in the same feed.
        self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()  # the app has the whole request: its own time is not the client's

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm(self.header_timeout)  # the next request's headers, on a kept-alive connection


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run's keyword arguments for the edge: forwarded headers and slow clients."""
    trusted = [p.strip() for p in settings.trusted_proxies if p.strip()]
    return {
        "http": DeadlineHttpToolsProtocol,
        # uvicorn believes X-Forwarded-For/-Proto from 127.0.0.1 unless told otherwise: then any
        # local client could pick its address (and dodge the per-address limits). Only the
        # proxies the operator names are believed; none by default.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": ",".join(trusted) if trusted else "",
        "timeout_keep_alive": 5,
    }
