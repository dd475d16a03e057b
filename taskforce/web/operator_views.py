"""The operator's console: the workers (create, deactivate, reactivate, reset a password, their
figures) and the queue (depth, oldest waiting task, who holds what; release a stuck lease).

Every change is a POST with the session's CSRF token, answered with a redirect back to the page
and a one-line message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from taskforce import accounts
from taskforce.clock import now_ms
from taskforce.errors import Conflict, InvalidParameter, NotFound
from taskforce.quality import gold
from taskforce.quality.worker_skill import worker_skills
from taskforce.tasks import service, skips
from taskforce.ids import is_ascii_number, is_task_id
from taskforce.web import sessions
from taskforce.web.forms import csrf_ok, flash, page, read_form, text
from taskforce.workforce_stats import URGENCIES, in_progress, oldest_waiting, queue_depth, worker_figures

router = APIRouter(include_in_schema=False)


def _state(request: Request):
    return request.app.state.taskforce


def _operator_page(request: Request, name: str, active: str, **context: Any) -> Response:
    # operator/_nav.html names every operator page (Queue, Workers, Customers).
    return page(request, name, active=active, **context)


async def _post(request: Request, back: str, action: Callable[[FormData, dict[str, Any]], None]) -> Response:
    """Run one operator action from a form: signed in as operator, CSRF checked, errors shown."""
    form = await read_form(request)

    def run() -> Response:
        user = sessions.require(request, "operator")
        if not csrf_ok(request, form):
            flash(request, "Your session expired; please try again.", "error")
        else:
            try:
                action(form, user)
            except (InvalidParameter, Conflict, NotFound) as exc:
                flash(request, exc.message, "error")
        return RedirectResponse(back, status_code=303)

    return await run_in_threadpool(run)


def _task_id(raw: str) -> str:
    """A task id from a URL, checked before it reaches a query (anything else is a 404)."""
    if not is_task_id(raw):
        raise NotFound(f"task_id: no task {raw!r}")
    return raw


def _worker(conn, raw_id: str) -> dict[str, Any]:
    """The worker account with this id (operators and customer users are not workers)."""
    try:
        if not is_ascii_number(raw_id) or len(raw_id) > 12:
            raise NotFound("no such worker")
        worker = accounts.get_user(conn, int(raw_id))
    except NotFound:
        raise NotFound("no such worker") from None
    if worker["role"] != "worker":
        raise NotFound("no such worker")
    return worker


@router.get("/operator")
def operator_home(request: Request) -> Response:
    sessions.require(request, "operator")
    return RedirectResponse("/operator/queue", status_code=303)


# -- workers ----------------------------------------------------------------------------------


@router.get("/operator/workers")
def workers_page(request: Request) -> Response:
    sessions.require(request, "operator")
    state = _state(request)
    with state.db.read() as conn:
        workers = accounts.list_users(conn, "worker")
        figures = worker_figures(conn, [w["id"] for w in workers],
                                 lease_seconds=state.settings.lease_seconds)
        skills = worker_skills(conn, [w["id"] for w in workers])
        rules = gold.rules(conn)
    return _operator_page(request, "operator/workers.html", "Workers", workers=workers, figures=figures,
                          skills=skills, rules=rules)


@router.post("/operator/workers")
async def create_worker(request: Request) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        email = text(form, "email", 254)
        password = accounts.new_password_hash(text(form, "password"))  # before the write lock
        with _state(request).db.write() as conn:
            accounts.create_user(conn, email, password, "worker")
        flash(request, f"Worker {accounts.normalize_email(email)} created. They sign in at /login.", "ok")

    return await _post(request, "/operator/workers", action)


def _set_active(request: Request, raw_id: str, active: bool) -> Callable[[FormData, dict[str, Any]], None]:
    def action(form: FormData, user: dict[str, Any]) -> None:
        with _state(request).db.write() as conn:
            worker = _worker(conn, raw_id)
            worker_id = worker["id"]
            accounts.set_active(conn, worker_id, active)
            # A deactivated worker's task goes back to the queue now, not when its lease ends.
            released = 0 if active else service.release_worker_leases(conn, worker_id)
        if active:
            flash(request, f"{worker['email']} can sign in again.", "ok")
        else:
            extra = " Their task went back to the queue." if released else ""
            flash(request, f"{worker['email']} is deactivated: they can no longer sign in or submit.{extra}", "ok")

    return action


@router.post("/operator/workers/{worker_id}/deactivate")
async def deactivate_worker(request: Request, worker_id: str) -> Response:
    return await _post(request, "/operator/workers", _set_active(request, worker_id, False))


@router.post("/operator/workers/{worker_id}/reactivate")
async def reactivate_worker(request: Request, worker_id: str) -> Response:
    return await _post(request, "/operator/workers", _set_active(request, worker_id, True))


@router.post("/operator/workers/{worker_id}/password")
async def reset_password(request: Request, worker_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        password = accounts.new_password_hash(text(form, "password"))  # before the write lock
        with _state(request).db.write() as conn:
            worker = _worker(conn, worker_id)
            accounts.set_password(conn, worker["id"], password)  # ends their sessions too
        flash(request, f"New password set for {worker['email']}.", "ok")

    return await _post(request, "/operator/workers", action)


# -- the queue --------------------------------------------------------------------------------


@router.get("/operator/queue")
def queue_page(request: Request) -> Response:
    sessions.require(request, "operator")
    now = now_ms()
    with _state(request).db.read() as conn:
        depth = queue_depth(conn, now=now)
        oldest = oldest_waiting(conn, now=now)
        held = in_progress(conn, now=now)
        flagged = skips.flagged_pending(conn)
    for lease in held:
        lease["seconds_left"] = max(0, (lease["lease_expires_at"] - now) // 1000)
        lease["held_ms"] = now - lease["claimed_at"] if lease["claimed_at"] else None
    return _operator_page(request, "operator/queue.html", "Queue", depth=depth, oldest=oldest,
                          held=held, urgencies=URGENCIES, now=now, flagged=flagged)


@router.get("/operator/skips")
def skips_page(request: Request) -> Response:
    """Why workers skipped: tasks whose attachment was flagged broken, recent skips with a reason,
    and (``?task=<id>``) every skip of one task."""
    sessions.require(request, "operator")
    task_id = request.query_params.get("task", "")
    task_id = task_id if is_task_id(task_id) else ""
    with _state(request).db.read() as conn:
        flagged = skips.flagged_attachments(conn)
        recent = skips.recent(conn, task_id=task_id or None, limit=200 if task_id else 50)
    return _operator_page(request, "operator/skips.html", "Skips", flagged=flagged, recent=recent,
                          task_id=task_id)


@router.post("/operator/queue/release")
async def release_lease(request: Request) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        task_id = text(form, "task_id", 64)
        if not is_task_id(task_id):
            raise NotFound(f"task_id: no task {task_id!r}")
        with _state(request).db.write() as conn:
            released = service.operator_release(conn, task_id)
        if released:
            flash(request, f"Task {task_id} is back in the queue.", "ok")
        else:
            flash(request, f"Task {task_id} was not held by anyone (already answered, canceled or released).")

    return await _post(request, "/operator/queue", action)
