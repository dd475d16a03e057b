"""Sending one callback POST: a pooled aiohttp session that enforces the address policy.

aiohttp was chosen by measurement (PERFORMANCE.md, docs/decisions.md): a pooled session on uvloop
sustained ~4,800 POST/s with 64 in flight against a loopback receiver; httpx's AsyncClient
150–900/s. One session per dispatcher keeps connections to busy receivers alive.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import socket
import time
from dataclasses import dataclass
import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from taskforce.callbacks.address_policy import IPNetwork, RefusedAddress, check_host, refusal

USER_AGENT = "Taskforce-Callbacks/1.0"
#: Bytes of a receiver's answer we keep (recorded errors, the dashboard's test button).
BODY_EXCERPT_BYTES = 512

#: Refusals met while serving the current request; the resolver and socket factory run in tasks
#: copied from the request's context, so they share this list object with it.
_refusals: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("refusals", default=None)


def _note(reason: str) -> None:
    found = _refusals.get()
    if found is not None:
        found.append(reason)


class PolicyResolver(AbstractResolver):
    """Resolves with ``inner`` and drops every address the policy refuses."""

    def __init__(self, allowed: tuple[IPNetwork, ...], inner: AbstractResolver | None = None) -> None:
        self.allowed = allowed
        self.inner = inner or ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        kept, reasons = [], []
        for result in results:
            reason = refusal(ipaddress.ip_address(result["host"]), self.allowed)
            if reason is None:
                kept.append(result)
            else:
                reasons.append(f"{host} resolves to {reason}")
        if not kept:
            reason = reasons[0] if reasons else f"{host} has no address"
            _note(reason)
            raise RefusedAddress(reason)
        return kept

    async def close(self) -> None:
        await self.inner.close()


def _socket_factory(allowed: tuple[IPNetwork, ...]):
    """The last check, on the exact address the socket is about to connect to."""

    def make(addr_info) -> socket.socket:
        family, type_, proto, _, address = addr_info
        reason = refusal(ipaddress.ip_address(address[0]), allowed)
        if reason is not None:
            _note(reason)
            raise RefusedAddress(reason)
        return socket.socket(family=family, type=type_, proto=proto)

    return make


def new_session(allowed: tuple[IPNetwork, ...], *, concurrency: int, timeout: float,
                resolver: AbstractResolver | None = None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        limit=max(1, concurrency),
        resolver=PolicyResolver(allowed, resolver),
        socket_factory=_socket_factory(allowed),
        ttl_dns_cache=10,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        # A receiver's cookies must never travel to another customer's receiver.
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,  # no proxy from the environment: the policy must see the real target
        auto_decompress=False,
        skip_auto_headers=("Accept-Encoding",),
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True)
class Outcome:
    """One attempt's result. ``status_code`` is None when no HTTP answer came back."""

    status_code: int | None
    latency_ms: int
    error: str | None
    body_excerpt: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _excerpt(data: bytes) -> str:
    return data[:BODY_EXCERPT_BYTES].decode("utf-8", "replace")


async def post(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], *,
               allowed: tuple[IPNetwork, ...], timeout: float) -> Outcome:
    """POST once, following no redirect; never raises for anything the receiver does."""
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        host = URL(url).raw_host or ""
    except ValueError:
        return Outcome(None, 0, "the callback URL is malformed")
    verdict = check_host(host, allowed)
    if verdict.allowed is False:
        return Outcome(None, 0, f"refused: {verdict.reason}")
    refusals: list[str] = []
    token = _refusals.set(refusals)
    try:
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as resp:
            excerpt = _excerpt(await resp.content.read(BODY_EXCERPT_BYTES))
            error = None
            if not 200 <= resp.status < 300:
                error = f"HTTP {resp.status}"
                if 300 <= resp.status < 400 and resp.headers.get("location"):
                    error += " (redirects are not followed)"
            return Outcome(resp.status, elapsed(), error, excerpt)
    except asyncio.TimeoutError:
        return Outcome(None, elapsed(), f"timed out after {timeout:g} s")
    except aiohttp.ClientError as exc:
        if refusals:
            return Outcome(None, elapsed(), f"refused: {refusals[0]}")
        return Outcome(None, elapsed(), _describe(exc))
    except RefusedAddress as exc:
        return Outcome(None, elapsed(), f"refused: {exc}")
    except (OSError, ValueError) as exc:
        if refusals:
            return Outcome(None, elapsed(), f"refused: {refusals[0]}")
        return Outcome(None, elapsed(), f"connection failed: {exc}")
    finally:
        _refusals.reset(token)


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the receiver closed the connection without answering"
    if isinstance(exc, aiohttp.InvalidURL):
        return f"the callback URL is not usable: {exc}"[:500]
    text = str(exc) or exc.__class__.__name__
    return f"request failed: {text}"[:500]
