"""The operator's Customers page: create customers, invite their users, see their volume, and
switch self sign-up on or off."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from taskforce import accounts, customers, site_settings
from taskforce.clock import now_ms
from taskforce.errors import Conflict, InvalidParameter, NotFound
from taskforce.ids import is_ascii_number
from taskforce.web import sessions
from taskforce.web.forms import checked_form, flash, page, text

router = APIRouter(include_in_schema=False)

DAY_MS = 86_400_000
#: The page lists this many customers, newest first; more would want a search box.
MAX_LISTED = 500


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    with request.app.state.taskforce.db.read() as conn:
        context["customers"] = customers.list_with_volume(conn, since=now_ms() - 30 * DAY_MS,
                                                          limit=MAX_LISTED)
        context["signup_enabled"] = site_settings.signup_enabled(conn)
    context.setdefault("invited", None)
    response = page(request, "dashboard/operator_customers.html", status_code=status_code,
                    section="customers", **context)
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/operator/customers")
def customers_page(request: Request) -> Response:
    sessions.require(request, "operator")
    return _page(request)


def _invitation(email: str, password: str) -> tuple[dict[str, Any], accounts.PasswordHash]:
    """The invited user and their password's hash, made before the write transaction; a blank
    password is generated and shown to the operator once."""
    generated = not password
    password = password or secrets.token_urlsafe(12)
    invited = {"email": accounts.normalize_email(email), "password": password if generated else None}
    return invited, accounts.new_password_hash(password)


async def _invitation_form(request: Request) -> tuple[dict[str, str], str, str]:
    """The operator's form (CSRF-checked), with the email and password of the user to invite."""
    sessions.require(request, "operator")
    form = await checked_form(request)  # a stale form raises StaleForm, answered by routes.py
    return form, text(form, "email", 254).strip(), text(form, "password")


async def _show_outcome(request: Request, act: Callable[[], tuple[str, dict[str, Any] | None]]) -> Response:
    """Run ``act`` (one unit of work, returning its message and the invited user, if any), then
    show the page with its message, or with the refusal when it raised (and rolled back)."""
    try:
        message, invited = await run_in_threadpool(act)
    except (InvalidParameter, Conflict, NotFound) as exc:
        return await run_in_threadpool(_page, request, 400, flash=exc.message, flash_kind="error")
    return await run_in_threadpool(_page, request, 200, flash=message, flash_kind="ok", invited=invited)


@router.post("/operator/customers")
async def customers_create(request: Request) -> Response:
    form, email, password = await _invitation_form(request)
    name = text(form, "name", 200).strip()

    def create() -> tuple[str, dict[str, Any] | None]:
        if not name:
            raise InvalidParameter("name", "enter the customer's name")
        invited, hashed = _invitation(email, password) if email else (None, None)
        with request.app.state.taskforce.db.write() as conn:
            customer_id = customers.create_customer(conn, name)
            if invited:  # in the same unit of work: no customer without its user
                accounts.create_user(conn, email, hashed, "customer", customer_id=customer_id)
        return f"Customer {name} created (id {customer_id}).", invited

    return await _show_outcome(request, create)


@router.post("/operator/customers/invite")
async def customers_invite(request: Request) -> Response:
    form, email, password = await _invitation_form(request)
    ref = text(form, "customer_id", 20)

    def invite() -> tuple[str, dict[str, Any] | None]:
        if not is_ascii_number(ref):
            raise NotFound("customer: choose a customer")
        invited, hashed = _invitation(email, password)
        with request.app.state.taskforce.db.write() as conn:
            row = customers.find_customer(conn, ref)
            accounts.create_user(conn, email, hashed, "customer", customer_id=row["id"])
        return f"Invited {invited['email']} to {row['name']}.", invited

    return await _show_outcome(request, invite)


@router.post("/operator/customers/signup")
async def signup_switch(request: Request) -> Response:
    sessions.require(request, "operator")
    form = await checked_form(request)  # a stale form raises StaleForm, answered by routes.py
    enabled = form.get("enabled") == "on"

    def switch() -> None:
        with request.app.state.taskforce.db.write() as conn:
            site_settings.put(conn, site_settings.SELF_SIGNUP, enabled)

    await run_in_threadpool(switch)
    flash(request, "Self sign-up is on: anyone can create a customer account at /signup." if enabled
           else "Self sign-up is off.", "ok")
    return RedirectResponse("/operator/customers", status_code=303)
