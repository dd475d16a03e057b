"""Signed-cookie sessions, CSRF tokens, and who is signed in.

The cookie (Starlette's SessionMiddleware, signed with itsdangerous) holds only the user id, the
user's session epoch when it began, and the CSRF token. The user row is read on every page, so a
deactivated account stops at once, and a cookie from an earlier epoch opens nothing: sign-out
and a password change raise the epoch, which ends every session that began before (a copied
cookie included: the cookie itself cannot be taken back).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request

from taskforce import accounts, request_log
from taskforce.errors import NotFound


class LoginRequired(Exception):
    """Raised by a page that needs a signed-in user; answered with a redirect to /login."""


class Forbidden(Exception):
    """Raised when the signed-in user's role may not see the page."""


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, submitted: Any) -> bool:
    expected = request.session.get("csrf")
    return bool(expected) and isinstance(submitted, str) and hmac.compare_digest(expected, submitted)


def sign_in(request: Request, user: dict[str, Any]) -> None:
    request.session.clear()
    request.session["uid"] = user["id"]
    request.session["epoch"] = user["session_epoch"]
    request.session["csrf"] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    """End this user's sessions, on the server too (blocking: call it off the event loop)."""
    user = current_user(request)
    if user is not None:
        with request.app.state.taskforce.db.write() as conn:
            accounts.end_sessions(conn, user["id"])
    request.session.clear()


def current_user(request: Request) -> dict[str, Any] | None:
    if "session" not in request.scope:
        return None
    cached = request.scope.get("taskforce.user")
    if cached is not None:
        return cached or None
    uid = request.session.get("uid")
    user: dict[str, Any] | None = None
    if isinstance(uid, int):
        with request.app.state.taskforce.db.read() as conn:
            try:
                user = accounts.get_user(conn, uid)
            except NotFound:
                user = None
            if user is not None and (request.session.get("epoch", 0) != user["session_epoch"]
                                     or not accounts.is_usable(conn, user)):
                user = None
    request.scope["taskforce.user"] = user or {}
    if user is not None and user.get("customer_id") is not None:
        # The request's log line names the customer, as it does for an API key's request.
        request_log.set_customer(request.scope, user["customer_id"])
    return user


def require(request: Request, *roles: str) -> dict[str, Any]:
    user = current_user(request)
    if user is None:
        raise LoginRequired()
    if roles and user["role"] not in roles:
        raise Forbidden()
    return user
