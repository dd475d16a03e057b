"""The worker's pages: start working, answer the task held, skip it, and go straight on to the next.

A worker holds at most one task (its lease). Every answer goes through ``service.complete``, which
checks the lease and the type's ``validate_response``; the task's type draws its form and turns the
submitted form into the answer object (``TaskType.answer_from_form``; inputs are named by position,
see ``task_types/forms.py``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from taskforce.clock import now_ms
from taskforce.errors import InvalidParameter, LeaseLost, NotFound
from taskforce.files import signed_urls
from taskforce.ids import is_task_id
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import is_http_url
from taskforce.tasks import service, skips
from taskforce.web import sessions, type_templates
from taskforce.web.forms import csrf_ok, flash, page, read_form, text
from taskforce.web.templating import templates
from taskforce.workforce_stats import format_duration, worker_figures

router = APIRouter(include_in_schema=False)
router.include_router(type_templates.router)  # the task types' own scripts and stylesheets

# Templates re-check every URL when they render it (a stored value may predate a validation rule).
# Names of our own, so another area's helpers of the same purpose never replace these.
# http(s) URLs, and the signed /files/ URLs that stand for scaledata:// attachments.
templates.env.globals["attachment_url_ok"] = lambda url: is_http_url(url) or signed_urls.is_signed_path(url)
templates.env.filters["workforce_duration"] = format_duration



def _state(request: Request):
    return request.app.state.taskforce


# -- pages ------------------------------------------------------------------------------------


def _task_page(request: Request, task: dict[str, Any], *, error: str | None = None,
               form: FormData | None = None, status_code: int = 200) -> Response:
    params = task["params"]
    task_type = REGISTRY.get(task["type"])
    return page(
        request, "work/task.html", status_code=status_code,
        task=task, task_type=task_type, params=params, error=error,
        values=task_type.form_values(params, form),
        skip_reasons=skips.REASONS, skip_note_max=skips.MAX_NOTE,
        seconds_left=max(0, (task["lease_expires_at"] - now_ms()) // 1000),
    )


def _claim_next(request: Request, worker_id: int, note: str | None = None) -> Response:
    """Lease the next task and open it, or say the queue is empty; ``note`` says why the
    previous task ended, when that needs saying."""
    state = _state(request)
    with state.db.write() as conn:
        lease = service.claim(conn, worker_id, lease_seconds=state.settings.lease_seconds,
                              gold_rate=state.settings.gold_rate)
    if lease is None:
        empty = "No tasks are waiting right now. Try again in a little while."
        flash(request, f"{note} {empty}" if note else empty, "error" if note else "info")
        return RedirectResponse("/work", status_code=303)
    if note:
        flash(request, f"{note} Here is the next task.", "error")
    return RedirectResponse(f"/work/task/{lease.task_id}", status_code=303)


@router.get("/work")
def work_home(request: Request) -> Response:
    user = sessions.require(request, "worker")
    state = _state(request)
    with state.db.read() as conn:
        lease = service.current_lease(conn, user["id"])
        figures = worker_figures(conn, [user["id"]], lease_seconds=state.settings.lease_seconds)[user["id"]]
    return page(request, "work/home.html", lease=lease, figures=figures)


@router.post("/work/next")
async def start_working(request: Request) -> Response:
    form = await read_form(request)

    def act() -> Response:
        user = sessions.require(request, "worker")
        if not csrf_ok(request, form):
            flash(request, "Your session expired; please try again.", "error")
            return RedirectResponse("/work", status_code=303)
        return _claim_next(request, user["id"])

    return await run_in_threadpool(act)


def _task_url(task_id: str) -> str:
    """Back to the task's page; only an id of our shape goes into a Location header."""
    return f"/work/task/{task_id}" if is_task_id(task_id) else "/work"


_NOT_YOURS = ("That task is no longer yours (its time ran out, it was answered or canceled). "
              "Press Start working for the next one.")


@router.get("/work/task/{task_id}")
def task_page(request: Request, task_id: str) -> Response:
    user = sessions.require(request, "worker")
    task = None
    if is_task_id(task_id):
        with _state(request).db.read() as conn:
            task = service.held_task(conn, task_id, user["id"])
    if task is None or REGISTRY.find(task["type"]) is None:
        flash(request, _NOT_YOURS)
        return RedirectResponse("/work", status_code=303)
    return _task_page(request, task)


@router.post("/work/task/{task_id}")
async def submit(request: Request, task_id: str) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_submit, request, task_id, form)


def _submit(request: Request, task_id: str, form: FormData) -> Response:
    user = sessions.require(request, "worker")  # a deactivated worker is signed out here
    state = _state(request)
    if not csrf_ok(request, form):
        flash(request, "Your session expired; please submit again.", "error")
        return RedirectResponse(_task_url(task_id), status_code=303)
    if not is_task_id(task_id):
        return _claim_next(request, user["id"], "That task does not exist.")
    token = text(form, "lease", 100)
    task_type = None
    try:
        with state.db.write() as conn:
            task = service.get(conn, task_id)
            task_type = REGISTRY.find(task["type"])
            if task_type is None:
                raise NotFound(f"no task type {task['type']!r}")
            answer = task_type.answer_from_form(task["params"], form)
            service.complete(conn, task_id, answer, worker_id=user["id"], lease_token=token)
    except NotFound:
        return _claim_next(request, user["id"], "That task does not exist.")
    except InvalidParameter as exc:
        with state.db.read() as conn:
            held = service.held_task(conn, task_id, user["id"])
        if held is None:
            return _claim_next(request, user["id"], "That task is no longer yours.")
        # The worker is told in the page's words ("Row 2, Name"), not the customer's keys.
        message = task_type.worker_message(held["params"], exc) if task_type else exc.message
        return _task_page(request, held, error=message, form=form, status_code=400)
    except LeaseLost as exc:
        return _claim_next(request, user["id"], exc.message)
    return _claim_next(request, user["id"])


@router.post("/work/task/{task_id}/skip")
async def skip(request: Request, task_id: str) -> Response:
    form = await read_form(request)

    def act() -> Response:
        user = sessions.require(request, "worker")
        if not csrf_ok(request, form):
            flash(request, "Your session expired; please try again.", "error")
            return RedirectResponse(_task_url(task_id), status_code=303)
        if not is_task_id(task_id):
            return _claim_next(request, user["id"], "That task does not exist.")
        if text(form, "flag") == "attachment":
            reason = skips.ATTACHMENT_BROKEN
        else:
            reason = skips.reason_text(text(form, "skip_reason", 50), text(form, "skip_note", 2000))
        with _state(request).db.write() as conn:
            service.release(conn, task_id, user["id"], text(form, "lease", 100), skip=True,
                            reason=reason)
        response = _claim_next(request, user["id"])
        if reason == skips.ATTACHMENT_BROKEN:
            # Said before whatever the next page has to say (an empty queue, say).
            thanks = "Thanks: the attachment is flagged for the operators."
            then = request.session.get("flash")
            flash(request, f"{thanks} {then[0]}" if then else thanks, then[1] if then else "ok")
        return response

    return await run_in_threadpool(act)


@router.post("/work/stop")
async def stop(request: Request) -> Response:
    """Give the held task back (not a skip: it may be offered to this worker again later)."""
    form = await read_form(request)

    def act() -> Response:
        user = sessions.require(request, "worker")
        if csrf_ok(request, form):
            task_id, token = text(form, "task_id", 100), text(form, "lease", 100)
            if is_task_id(task_id) and token:
                with _state(request).db.write() as conn:
                    service.release(conn, task_id, user["id"], token, skip=False)
                flash(request, "Task handed back. See you soon.")
        return RedirectResponse("/work", status_code=303)

    return await run_in_threadpool(act)
