"""The operator's Customers page: create customers, invite their users, see their volume, and
switch self sign-up on or off."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from taskforce import accounts, customers, site_settings
from taskforce.clock import now_ms
from taskforce.ids import is_ascii_number
from taskforce.errors import Conflict, InvalidParameter, NotFound
from taskforce.models import customers as customers_table
from taskforce.models import tasks, users
from taskforce.tasks.status import Status
from taskforce.web import sessions
from taskforce.web.templating import render

router = APIRouter(include_in_schema=False)

DAY_MS = 86_400_000
#: The page lists this many customers, newest first; more would want a search box.
MAX_LISTED = 500


def _volume(conn, customer_id: int, since: int) -> dict[str, int]:
    """Live tasks created since ``since`` and pending now: two range scans of the customer's
    own index entries, so the page costs the same whatever other customers send."""
    live = [tasks.c.customer_id == customer_id, tasks.c.is_test == False]  # noqa: E712
    recent = conn.execute(
        select(func.count()).select_from(tasks).where(*live, tasks.c.created_at >= since)
    ).scalar_one()
    pending = conn.execute(
        select(func.count()).select_from(tasks).where(*live, tasks.c.status == Status.PENDING.value)
    ).scalar_one()
    return {"last_30_days": recent, "pending": pending}


def _rows(conn) -> list[dict[str, Any]]:
    since = now_ms() - 30 * DAY_MS
    user_counts = dict(conn.execute(
        select(users.c.customer_id, func.count()).where(users.c.role == "customer")
        .group_by(users.c.customer_id)
    ).all())
    rows = []
    for row in conn.execute(
        select(customers_table.c.id, customers_table.c.name, customers_table.c.active,
               customers_table.c.created_at)
        .order_by(customers_table.c.id.desc()).limit(MAX_LISTED)
    ).mappings():
        rows.append({**row, **_volume(conn, row["id"], since), "users": user_counts.get(row["id"], 0)})
    return rows


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    flash = request.session.pop("flash", None)
    if flash and "flash" not in context:
        context["flash"], context["flash_kind"] = flash
    with request.app.state.taskforce.db.read() as conn:
        context["customers"] = _rows(conn)
        context["signup_enabled"] = site_settings.signup_enabled(conn)
    context.setdefault("invited", None)
    response = render(request, "dashboard/operator_customers.html", status_code=status_code,
                      section="customers", **context)
    response.headers["cache-control"] = "no-store"
    return response


def _flash(request: Request, message: str, kind: str = "ok") -> None:
    request.session["flash"] = [message[:500], kind]


async def _form(request: Request) -> dict[str, str] | None:
    form = await request.form()
    if not sessions.csrf_ok(request, form.get("csrf_token")):
        return None
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _stale(request: Request) -> Response:
    return render(request, "error.html", status_code=400,
                  message="Your session expired or the form was stale; please go back and try again.")


@router.get("/operator/customers")
def customers_page(request: Request) -> Response:
    sessions.require(request, "operator")
    return _page(request)


def _invite(conn, customer_id: int, email: str, password: str) -> dict[str, Any]:
    """Create the customer's user; a blank password is generated and shown to the operator once."""
    generated = not password
    password = password or secrets.token_urlsafe(12)
    accounts.create_user(conn, email, password, "customer", customer_id=customer_id)
    return {"email": accounts.normalize_email(email), "password": password if generated else None}


@router.post("/operator/customers")
async def customers_create(request: Request) -> Response:
    sessions.require(request, "operator")
    form = await _form(request)
    if form is None:
        return _stale(request)
    name = form.get("name", "").strip()[:200]
    email = form.get("email", "").strip()[:254]
    password = form.get("password", "")[:1000]
    if not name:
        return await run_in_threadpool(_page, request, 400, flash="name: enter the customer's name",
                                       flash_kind="error")

    def create() -> tuple[int, dict[str, Any] | None]:
        with request.app.state.taskforce.db.write() as conn:
            customer_id = customers.create_customer(conn, name)
            invited = _invite(conn, customer_id, email, password) if email else None
        return customer_id, invited

    try:
        customer_id, invited = await run_in_threadpool(create)
    except (InvalidParameter, Conflict) as exc:
        # The whole unit of work rolled back: no customer without its user.
        return await run_in_threadpool(_page, request, 400, flash=exc.message, flash_kind="error")
    return await run_in_threadpool(_page, request, 200, flash=f"Customer {name} created (id {customer_id}).",
                                   flash_kind="ok", invited=invited)


@router.post("/operator/customers/invite")
async def customers_invite(request: Request) -> Response:
    sessions.require(request, "operator")
    form = await _form(request)
    if form is None:
        return _stale(request)
    ref = form.get("customer_id", "")
    email = form.get("email", "").strip()[:254]
    password = form.get("password", "")[:1000]

    def invite() -> tuple[dict[str, Any], dict[str, Any]]:
        with request.app.state.taskforce.db.write() as conn:
            if not is_ascii_number(ref):
                raise NotFound("customer: choose a customer")
            row = customers.find_customer(conn, ref)
            return row, _invite(conn, row["id"], email, password)

    try:
        row, invited = await run_in_threadpool(invite)
    except (InvalidParameter, Conflict, NotFound) as exc:
        return await run_in_threadpool(_page, request, 400, flash=exc.message, flash_kind="error")
    return await run_in_threadpool(_page, request, 200, flash=f"Invited {invited['email']} to {row['name']}.",
                                   flash_kind="ok", invited=invited)


@router.post("/operator/customers/signup")
async def signup_switch(request: Request) -> Response:
    sessions.require(request, "operator")
    form = await _form(request)
    if form is None:
        return _stale(request)
    enabled = form.get("enabled") == "on"

    def switch() -> None:
        with request.app.state.taskforce.db.write() as conn:
            site_settings.put(conn, site_settings.SELF_SIGNUP, enabled)

    await run_in_threadpool(switch)
    _flash(request, "Self sign-up is on: anyone can create a customer account at /signup." if enabled
           else "Self sign-up is off.")
    return RedirectResponse("/operator/customers", status_code=303)
