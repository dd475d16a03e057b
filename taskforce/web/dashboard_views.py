"""The customer dashboard: overview, tasks, API keys, callbacks; and self sign-up.

Every query here is scoped to the signed-in user's ``customer_id`` (taken from the user row read
on each request, never from the form or the URL), so a user of customer A cannot name B's task,
key or delivery and reach it: B's rows simply do not exist for A and answer 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from jinja2 import pass_context
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from taskforce import accounts, customers, dashboard_stats, site_settings
from taskforce.callbacks import queries as callback_queries
from taskforce.callbacks import service as callback_service
from taskforce.clock import format_ms, now_ms, parse_iso
from taskforce.errors import Conflict, InvalidParameter, NotFound, TaskforceError
from taskforce.ids import API_KEY_PREFIX_LEN, is_ascii_number, is_task_id
from taskforce.rate_limits import retry_text
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import is_http_url
from taskforce.tasks import queries, service
from taskforce.tasks.status import Status, Urgency
from taskforce.web import sessions
from taskforce.web.auth_views import client_address
from taskforce.web.forms import StaleForm, checked_form, flash, page, text
from taskforce.web.templating import render, templates

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_MS = 86_400_000


# -- shared bits ---------------------------------------------------------------------------------


def _customer_user(request: Request) -> dict[str, Any]:
    return sessions.require(request, "customer")


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    context.setdefault("mode", _mode(request))
    return page(request, name, status_code=status_code, **context)


def _mode(request: Request) -> str:
    return "test" if request.query_params.get("mode") == "test" else "live"


def _redirect(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _not_found(request: Request, what: str = "page") -> Response:
    return render(request, "error.html", status_code=404, message=f"There is no such {what}.")


def _state(request: Request):
    return request.app.state.taskforce


@pass_context
def _signup_open(context: Any) -> bool:
    request = context["request"]
    with request.app.state.taskforce.db.read() as conn:
        return site_settings.signup_enabled(conn)


templates.env.globals["signup_open"] = _signup_open


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


templates.env.filters["duration"] = _duration


# -- overview ------------------------------------------------------------------------------------


@dataclass
class Chart:
    """A server-rendered bar chart: two bars (created, completed) per day, sized in SVG units."""

    width: int = 720
    height: int = 200
    bars: list[dict[str, Any]] = field(default_factory=list)
    ticks: list[dict[str, Any]] = field(default_factory=list)
    peak: int = 0


def _chart(days: list[dashboard_stats.Day]) -> Chart:
    chart = Chart()
    plot_h = chart.height - 30
    peak = max([d.created for d in days] + [d.completed for d in days] + [1])
    chart.peak = peak
    slot = chart.width / len(days)
    bar_w = max(slot / 2 - 1, 1)
    for i, day in enumerate(days):
        label = (format_ms(day.start_ms) or "")[:10]
        for j, (kind, n) in enumerate((("created", day.created), ("completed", day.completed))):
            h = round(plot_h * n / peak, 1)
            chart.bars.append({"x": round(i * slot + j * bar_w, 1), "y": round(plot_h - h, 1),
                               "w": round(bar_w, 1), "h": h, "kind": kind, "n": n, "day": label})
        if i == len(days) - 1:
            chart.ticks.append({"x": chart.width, "label": label[5:], "last": True})
        elif i % 5 == 0 and i < len(days) - 3:
            chart.ticks.append({"x": round(i * slot, 1), "label": label[5:], "last": False})
    return chart


@router.get("/dashboard")
def overview(request: Request) -> Response:
    user = _customer_user(request)
    mode = _mode(request)
    with _state(request).db.read() as conn:
        stats = dashboard_stats.overview(conn, user["customer_id"], mode == "test", now=now_ms())
    return _page(request, "dashboard/overview.html", stats=stats, chart=_chart(stats.days),
                 section="overview")


# -- tasks ---------------------------------------------------------------------------------------


def _day_ms(value: str, name: str) -> int | None:
    if not value:
        return None
    if not _DATE.match(value):
        raise InvalidParameter(name, "must be a date like 2026-01-31")
    try:
        return parse_iso(value)
    except ValueError:
        raise InvalidParameter(name, "is not a date") from None


def _task_filter(customer_id: int, q: dict[str, str]) -> tuple[queries.TaskFilter, list[str]]:
    """The filter the query string asks for; unknown values are dropped with a message each."""
    errors: list[str] = []
    status = q.get("status") or None
    if status is not None and status not in {s.value for s in Status}:
        errors.append("status: unknown status")
        status = None
    type_name = q.get("type") or None
    if type_name is not None and type_name not in REGISTRY.by_name:
        errors.append("type: unknown task type")
        type_name = None
    urgency = q.get("urgency") or None
    if urgency is not None and urgency not in {u.value for u in Urgency}:
        errors.append("urgency: unknown urgency")
        urgency = None
    start = end = None
    try:
        start = _day_ms(q.get("from", ""), "from")
    except InvalidParameter as exc:
        errors.append(exc.message)
    try:
        end = _day_ms(q.get("to", ""), "to")
        end = end + DAY_MS if end is not None else None  # "to" is inclusive: the whole day
    except InvalidParameter as exc:
        errors.append(exc.message)
    f = queries.TaskFilter(customer_id=customer_id, is_test=q.get("mode") == "test", status=status,
                           type=type_name, urgency=urgency, start_ms=start, end_ms=end)
    return f, errors


@router.get("/dashboard/tasks")
def task_list(request: Request) -> Response:
    user = _customer_user(request)
    q = {k: v[:100] for k, v in request.query_params.items()}
    search_text = request.query_params.get("q", "")[:200].strip()
    if search_text:
        return _search_page(request, user, q, search_text)
    task_filter, errors = _task_filter(user["customer_id"], q)
    token = q.get("next_token") or None
    with _state(request).db.read() as conn:
        try:
            page = queries.list_page(conn, task_filter, limit=PAGE_SIZE, next_token=token,
                                     with_total=False)
        except InvalidParameter as exc:
            errors.append(exc.message)
            token = None
            page = queries.list_page(conn, task_filter, limit=PAGE_SIZE, with_total=False)
    kept = {k: v for k, v in q.items() if k in ("mode", "status", "type", "urgency", "from", "to") and v}
    next_url = f"/dashboard/tasks?{urlencode({**kept, 'next_token': page.next_token})}" if page.next_token else None
    first_url = f"/dashboard/tasks?{urlencode(kept)}" if token else None
    return _page(request, "dashboard/tasks.html", page=page, q=q, errors=errors, next_url=next_url,
                 first_url=first_url, statuses=[s.value for s in Status],
                 types=list(REGISTRY.by_name), urgencies=[u.value for u in Urgency], section="tasks")


def _search_page(request: Request, user: dict[str, Any], q: dict[str, str], text: str) -> Response:
    """The search box: a task id, a unique_id, or a metadata value (``key=value`` or any top-level
    value), in the customer's tasks only; see ``queries.search``. The other filters do not apply."""
    with _state(request).db.read() as conn:
        found = queries.search(conn, user["customer_id"], q.get("mode") == "test", text, limit=PAGE_SIZE)
    return _page(request, "dashboard/tasks.html", page=found, q={**q, "q": text}, errors=[],
                 next_url=None, first_url=None, search=found, scan_limit=queries.METADATA_SCAN,
                 statuses=[s.value for s in Status], types=list(REGISTRY.by_name),
                 urgencies=[u.value for u in Urgency], section="tasks")


def _attempts(conn, task_id: str, customer_id: int) -> list[Any]:
    return list(callback_queries.attempts_for_task(conn, task_id, customer_id))


@router.get("/dashboard/tasks/{task_id}")
def task_page(request: Request, task_id: str) -> Response:
    user = _customer_user(request)
    if not is_task_id(task_id):
        return _not_found(request, "task")
    with _state(request).db.read() as conn:
        try:
            task = service.get(conn, task_id, customer_id=user["customer_id"])
        except NotFound:
            return _not_found(request, "task")
        attempts = _attempts(conn, task_id, user["customer_id"])
    return _page(request, "dashboard/task.html", task=task, attempts=attempts,
                 section="tasks")


async def _task_action(request: Request, task_id: str, action, done: str) -> Response:
    """A button on the task page: CSRF-checked, scoped to the user's customer, flashed back."""
    user = _customer_user(request)
    await checked_form(request)  # a stale form raises StaleForm, answered by routes.py
    if not is_task_id(task_id):
        return _not_found(request, "task")

    def run() -> Response:
        with _state(request).db.write() as conn:
            try:
                action(conn, user["customer_id"])
            except NotFound:
                return _not_found(request, "task")
            except TaskforceError as exc:
                flash(request, exc.message, "error")
                return _redirect(f"/dashboard/tasks/{task_id}")
        flash(request, done, "ok")
        return _redirect(f"/dashboard/tasks/{task_id}")

    return await run_in_threadpool(run)


@router.post("/dashboard/tasks/{task_id}/cancel")
async def task_cancel(request: Request, task_id: str) -> Response:
    def cancel(conn, customer_id: int) -> None:
        service.cancel(conn, task_id, customer_id=customer_id, is_test=None)

    return await _task_action(request, task_id, cancel, "Task canceled.")


@router.post("/dashboard/tasks/{task_id}/redeliver")
async def task_redeliver(request: Request, task_id: str) -> Response:
    def redeliver(conn, customer_id: int) -> None:
        callback_service.redeliver(conn, task_id, customer_id, now=now_ms())

    return await _task_action(request, task_id, redeliver, "The callback will be sent again in a moment.")


# -- API keys ------------------------------------------------------------------------------------


@router.get("/dashboard/keys")
def keys_page(request: Request) -> Response:
    user = _customer_user(request)
    with _state(request).db.read() as conn:
        keys = customers.list_api_keys(conn, user["customer_id"])
    return _page(request, "dashboard/keys.html", keys=keys, new_key=None, section="keys")


@router.post("/dashboard/keys")
async def keys_create(request: Request) -> Response:
    user = _customer_user(request)
    form = await checked_form(request)  # a stale form raises StaleForm, answered by routes.py
    mode = form.get("mode")
    if mode not in customers.MODES:
        flash(request, "Choose live or test.", "error")
        return _redirect("/dashboard/keys")
    try:
        name = customers.key_name(text(form, "name", 10_000))
    except InvalidParameter as exc:
        flash(request, exc.message, "error")
        return _redirect("/dashboard/keys")

    def create() -> Response:
        with _state(request).db.write() as conn:
            key = customers.create_api_key(conn, user["customer_id"], mode, name=name)
            keys = customers.list_api_keys(conn, user["customer_id"])
        # Rendered straight into this response, never stored in the session cookie or a redirect:
        # this page is the only place the whole key ever appears.
        response = _page(request, "dashboard/keys.html", keys=keys, new_key=key, section="keys")
        response.headers["cache-control"] = "no-store"
        return response

    return await run_in_threadpool(create)


@router.post("/dashboard/keys/revoke")
async def keys_revoke(request: Request) -> Response:
    user = _customer_user(request)
    form = await checked_form(request)  # a stale form raises StaleForm, answered by routes.py
    prefix = form.get("prefix", "")
    if len(prefix) != API_KEY_PREFIX_LEN:
        return _not_found(request, "key")

    def revoke() -> Response:
        with _state(request).db.write() as conn:
            done = customers.revoke_api_key(conn, prefix, customer_id=user["customer_id"])
        if not done:
            return _not_found(request, "key")
        flash(request, f"Key {prefix}… revoked; the API refuses it from now on.", "ok")
        return _redirect("/dashboard/keys")

    return await run_in_threadpool(revoke)


# -- callbacks -----------------------------------------------------------------------------------


def _callback_page(request: Request, user: dict[str, Any], **extra: Any) -> Response:
    with _state(request).db.read() as conn:
        row = customers.find_customer(conn, str(user["customer_id"]))
        deliveries = list(callback_queries.deliveries_for_customer(conn, user["customer_id"], limit=20))
    now = now_ms()
    previous_valid = bool(row["previous_signing_secret"] and row["previous_secret_expires_at"]
                          and row["previous_secret_expires_at"] > now)
    extra.setdefault("test_url", "")
    extra.setdefault("test_result", None)
    response = _page(request, "dashboard/callbacks.html", customer=row, previous_valid=previous_valid,
                     deliveries=deliveries,
                     section="callbacks", **extra)
    response.headers["cache-control"] = "no-store"
    return response


@router.get("/dashboard/callbacks")
def callbacks_page(request: Request) -> Response:
    return _callback_page(request, _customer_user(request))


@router.post("/dashboard/callbacks/rotate")
async def callbacks_rotate(request: Request) -> Response:
    user = _customer_user(request)
    form = await checked_form(request)  # a stale form raises StaleForm, answered by routes.py
    which = form.get("secret")
    settings = _state(request).settings

    def rotate() -> Response:
        with _state(request).db.write() as conn:
            if which == "callback_auth_key":
                customers.rotate_callback_auth_key(conn, user["customer_id"])
                message = "New callback auth key: callbacks carry it from now on."
            elif which == "signing_secret":
                customers.rotate_signing_secret(conn, user["customer_id"],
                                                grace_seconds=settings.signing_secret_grace_seconds)
                message = "New signing secret. The old one keeps signing alongside it until the time shown."
            else:
                flash(request, "Unknown secret.", "error")
                return _redirect("/dashboard/callbacks")
        flash(request, message, "ok")
        return _redirect("/dashboard/callbacks")

    return await run_in_threadpool(rotate)


@router.post("/dashboard/callbacks/test")
async def callbacks_test(request: Request) -> Response:
    user = _customer_user(request)
    form = await checked_form(request)  # a stale form raises StaleForm, answered by routes.py
    url = form.get("url", "").strip()[:2000]
    limit = _state(request).limits.test_callbacks
    if not is_http_url(url):
        result: dict[str, Any] | None = {"error": "Enter an http:// or https:// URL."}
    elif (wait := limit.wait_seconds(user["customer_id"])) > 0:
        result = {"error": f"Too many test callbacks. Try again in {retry_text(wait)}."}
    else:
        row = await run_in_threadpool(_customer_row, request, user["customer_id"])
        outcome = await callback_service.send_test_callback(_state(request).settings, row, url)
        result = _as_dict(outcome)
    return await run_in_threadpool(_callback_page, request, user, test_url=url, test_result=result)


@router.post("/dashboard/callbacks/batches/{batch_id}/redeliver")
async def batch_redeliver(request: Request, batch_id: str) -> Response:
    """A batch's completion callback, owed once more (its row on the deliveries table)."""
    user = _customer_user(request)
    await checked_form(request)  # a stale form raises StaleForm, answered by routes.py
    if not is_ascii_number(batch_id) or len(batch_id) > 12:
        return _not_found(request, "batch")

    def run() -> Response:
        with _state(request).db.write() as conn:
            try:
                callback_service.redeliver_batch(conn, int(batch_id), user["customer_id"], now=now_ms())
            except NotFound:
                return _not_found(request, "batch")
            except TaskforceError as exc:
                flash(request, exc.message, "error")
                return _redirect("/dashboard/callbacks")
        flash(request, "The batch's callback will be sent again in a moment.", "ok")
        return _redirect("/dashboard/callbacks")

    return await run_in_threadpool(run)


def _customer_row(request: Request, customer_id: int) -> dict[str, Any]:
    with _state(request).db.read() as conn:
        return customers.find_customer(conn, str(customer_id))


def _as_dict(outcome: Any) -> dict[str, Any]:
    keys = ("status_code", "latency_ms", "error", "body_excerpt")
    if isinstance(outcome, dict):
        return {k: outcome.get(k) for k in keys}
    return {k: getattr(outcome, k, None) for k in keys}


# -- self sign-up --------------------------------------------------------------------------------


def _signup_enabled(request: Request) -> bool:
    with _state(request).db.read() as conn:
        return site_settings.signup_enabled(conn)


@router.get("/signup")
def signup_page(request: Request) -> Response:
    if not _signup_enabled(request):
        return _not_found(request)
    return render(request, "signup.html", error=None, company="", email="")


@router.post("/signup")
async def signup(request: Request) -> Response:
    try:
        form = await checked_form(request)
    except StaleForm:
        return render(request, "signup.html", status_code=400, company="", email="",
                      error="Your session expired; please try again.")
    company = text(form, "company", 200).strip()
    email = text(form, "email", 254).strip()
    password = text(form, "password")

    def refused(status: int, error: str) -> Response:
        return render(request, "signup.html", status_code=status, error=error, company=company,
                      email=email)

    def create() -> Response:
        state = _state(request)
        if not _signup_enabled(request):
            return _not_found(request)
        # The cheap refusals first; then argon2, before the write lock is taken, not under it.
        wait = state.limits.signups.wait_seconds(client_address(request))
        if wait > 0:
            return refused(429, f"Too many sign-ups from your address. Try again in {retry_text(wait)}.")
        if not company:
            return refused(400, "company: enter your company's name")
        try:
            hashed = accounts.new_password_hash(password)
            with state.db.write() as conn:
                # Checked again inside the write transaction: an operator switching sign-up off wins.
                if not site_settings.signup_enabled(conn):
                    return _not_found(request)
                customer_id = customers.create_customer(conn, company)
                user_id = accounts.create_user(conn, email, hashed, "customer", customer_id=customer_id)
                user = accounts.get_user(conn, user_id)
        except (InvalidParameter, Conflict) as exc:
            # Raised inside the unit of work, it rolls the customer back: no orphan accounts.
            return refused(400, exc.message)
        sessions.sign_in(request, user)
        flash(request, "Welcome! Create an API key below to start.", "ok")
        return _redirect("/dashboard/keys")

    return await run_in_threadpool(create)
