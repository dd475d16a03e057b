"""The worker's pages: start working, answer the task held, skip it, and go straight on to the next.

A worker holds at most one task (its lease). Every answer goes through ``service.complete``, which
checks the lease and the type's ``validate_response``; the page only turns the form into the
answer object. Form inputs are named by position (``field-0``, ``row-2-1``, ``category=3``), never
by the customer's keys or texts, so nothing a customer writes ends up in a ``name`` attribute and
browsers' newline normalisation of submitted values cannot change an answer.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from taskforce.clock import now_ms
from taskforce.errors import InvalidParameter, LeaseLost, NotFound
from taskforce.task_types import REGISTRY
from taskforce.task_types.base import is_http_url
from taskforce.task_types.fields import MAX_ROWS
from taskforce.task_types.phonecall import OUTCOMES, dialable
from taskforce.tasks import service
from taskforce.tasks.status import Status
from taskforce.web import sessions
from taskforce.web.templating import render, templates
from taskforce.workforce_stats import format_duration, worker_figures

router = APIRouter(include_in_schema=False)

# Templates re-check every URL when they render it (a stored value may predate a validation rule).
# Names of our own, so another area's helpers of the same purpose never replace these.
templates.env.globals["attachment_url_ok"] = is_http_url
templates.env.globals["tel_e164"] = lambda number: _dialable(number)
templates.env.filters["workforce_duration"] = format_duration

OUTCOME_LABELS = {"success": "Success — the call went through", "no_pickup": "No pickup",
                  "hung_up": "Hung up before the task was done"}
#: Row indices a form may use; anything past the limit is still counted so the 11th row is refused.
_ROW_INPUT = re.compile(r"^row-([0-9]{1,3})-([0-9]{1,3})$")


def _dialable(number: str) -> str | None:
    try:
        return dialable(number)
    except Exception:  # noqa: BLE001 - an unparseable stored number is shown, not linked
        return None


def flash(request: Request, message: str, kind: str = "info") -> None:
    request.session["flash"] = [message, kind]


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """Render with the one-time message left by the previous request, if any."""
    message = request.session.pop("flash", None)
    if message and "flash" not in context:
        context["flash"], context["flash_kind"] = message
    return render(request, name, status_code=status_code, **context)


def _state(request: Request):
    return request.app.state.taskforce


# -- turning a form into an answer --------------------------------------------------------------


def _pick(options: list[str], raw: str) -> Any:
    """The option at this position; anything else becomes a value no check accepts."""
    # isascii: str.isdigit() is also true of "²", which int() refuses.
    if raw.isascii() and raw.isdigit() and len(raw) < 6 and int(raw) < len(options):
        return options[int(raw)]
    return -1


def _field_values(form: FormData, keys: list[str], prefix: str) -> dict[str, Any]:
    """``{key: value}`` for each ``{prefix}{i}`` input present; a missing input stays missing."""
    out: dict[str, Any] = {}
    for i, key in enumerate(keys):
        value = form.get(f"{prefix}{i}")
        if value is not None:
            out[key] = value if isinstance(value, str) else ""
    return out


def _rows(form: FormData, keys: list[str]) -> list[dict[str, Any]]:
    cells: dict[int, dict[int, str]] = {}
    for name, value in form.multi_items():
        match = _ROW_INPUT.match(name)
        if match and isinstance(value, str):
            cells.setdefault(int(match[1]), {})[int(match[2])] = value
    rows = []
    for r in sorted(cells):
        row = {key: cells[r][i] for i, key in enumerate(keys) if i in cells[r]}
        # A row the worker added and left empty is not an answer.
        if any(v.strip() for v in row.values()):
            rows.append(row)
    return rows


def answer_from_form(type_name: str, params: dict[str, Any], form: FormData) -> dict[str, Any]:
    if type_name == "categorization":
        categories = list(params["categories"])
        picked = [_pick(categories, v) for v in form.getlist("category") if isinstance(v, str)]
        if params.get("allow_multiple"):
            return {"category": picked}
        return {"category": picked[0] if len(picked) == 1 else ("" if not picked else -1)}
    if type_name == "transcription":
        answer = {"fields": _field_values(form, list(params["fields"]), "field-")}
        row_keys = list(params.get("row_fields") or {})
        if row_keys:
            answer["rows"] = _rows(form, row_keys)
        return answer
    if type_name == "phonecall":
        return {"outcome": form.get("outcome") or "",
                "fields": _field_values(form, list(params.get("fields") or {}), "field-")}
    if type_name == "comparison":
        answer: dict[str, Any] = {}
        if params.get("choices"):
            raw = form.get("choice")
            answer["choice"] = _pick(list(params["choices"]), raw) if isinstance(raw, str) else ""
        if params.get("fields"):
            answer["fields"] = _field_values(form, list(params["fields"]), "field-")
        return answer
    raise NotFound(f"no answer form for task type {type_name!r}")


def form_values(form: FormData | None) -> dict[str, Any]:
    """What the worker typed, to put back into the form when the answer is refused."""
    if form is None:
        return {"category": set(), "fields": {}, "rows": [], "outcome": "", "choice": ""}
    rows: dict[int, dict[int, str]] = {}
    for name, value in form.multi_items():
        match = _ROW_INPUT.match(name)
        if match and isinstance(value, str) and int(match[1]) < 100:
            rows.setdefault(int(match[1]), {})[int(match[2])] = value
    return {
        "category": {v for v in form.getlist("category") if isinstance(v, str)},
        "fields": {k[6:]: v for k, v in form.multi_items() if k.startswith("field-") and isinstance(v, str)},
        "rows": [rows[r] for r in sorted(rows)],
        "outcome": form.get("outcome") or "",
        "choice": form.get("choice") or "",
    }


# -- pages ------------------------------------------------------------------------------------


def _held_task(conn, task_id: str, worker_id: int, now: int) -> dict[str, Any] | None:
    """The task if this worker holds an unexpired lease on it, else None."""
    lease = service.held_lease(conn, task_id, worker_id, now=now)
    if lease is None:
        return None
    task = service.get(conn, task_id)
    if task["status"] != Status.PENDING.value:
        return None
    task["lease_token"] = lease.token
    task["lease_expires_at"] = lease.expires_at
    return task


def _task_page(request: Request, task: dict[str, Any], *, error: str | None = None,
               form: FormData | None = None, status_code: int = 200) -> Response:
    params = task["params"]
    rows = form_values(form)["rows"] if form is not None else []
    return page(
        request, "work/task.html", status_code=status_code,
        task=task, params=params, error=error, values=form_values(form),
        seconds_left=max(0, (task["lease_expires_at"] - now_ms()) // 1000),
        outcomes=[(o, OUTCOME_LABELS[o]) for o in OUTCOMES],
        row_keys=list((params.get("row_fields") or {}).items()),
        initial_rows=rows or [{}], max_rows=MAX_ROWS,
    )


def _claim_next(request: Request, worker_id: int, note: str | None = None) -> Response:
    """Lease the next task and open it, or say the queue is empty; ``note`` says why the
    previous task ended, when that needs saying."""
    state = _state(request)
    with state.db.write() as conn:
        lease = service.claim(conn, worker_id, lease_seconds=state.settings.lease_seconds)
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
    form = await request.form()

    def act() -> Response:
        user = sessions.require(request, "worker")
        if not sessions.csrf_ok(request, form.get("csrf_token")):
            flash(request, "Your session expired; please try again.", "error")
            return RedirectResponse("/work", status_code=303)
        return _claim_next(request, user["id"])

    return await run_in_threadpool(act)


@router.get("/work/task/{task_id}")
def task_page(request: Request, task_id: str) -> Response:
    user = sessions.require(request, "worker")
    with _state(request).db.read() as conn:
        task = _held_task(conn, task_id[:64], user["id"], now_ms())
    if task is None:
        flash(request, "That task is no longer yours (its time ran out, it was answered or "
                       "canceled). Press Start working for the next one.")
        return RedirectResponse("/work", status_code=303)
    return _task_page(request, task)


@router.post("/work/task/{task_id}")
async def submit(request: Request, task_id: str) -> Response:
    form = await request.form()
    return await run_in_threadpool(_submit, request, task_id[:64], form)


def _submit(request: Request, task_id: str, form: FormData) -> Response:
    user = sessions.require(request, "worker")  # a deactivated worker is signed out here
    state = _state(request)
    if not sessions.csrf_ok(request, form.get("csrf_token")):
        flash(request, "Your session expired; please submit again.", "error")
        return RedirectResponse(f"/work/task/{task_id}", status_code=303)
    token = form.get("lease")
    token = token if isinstance(token, str) else ""
    try:
        with state.db.write() as conn:
            task = service.get(conn, task_id)
            answer = answer_from_form(task["type"], task["params"], form)
            service.complete(conn, task_id, answer, worker_id=user["id"], lease_token=token)
    except NotFound:
        return _claim_next(request, user["id"], "That task does not exist.")
    except InvalidParameter as exc:
        with state.db.read() as conn:
            held = _held_task(conn, task_id, user["id"], now_ms())
        if held is None:
            return _claim_next(request, user["id"], "That task is no longer yours.")
        return _task_page(request, held, error=exc.message, form=form, status_code=400)
    except LeaseLost as exc:
        return _claim_next(request, user["id"], exc.message)
    return _claim_next(request, user["id"])


@router.post("/work/task/{task_id}/skip")
async def skip(request: Request, task_id: str) -> Response:
    form = await request.form()

    def act() -> Response:
        user = sessions.require(request, "worker")
        if not sessions.csrf_ok(request, form.get("csrf_token")):
            flash(request, "Your session expired; please try again.", "error")
            return RedirectResponse(f"/work/task/{task_id[:64]}", status_code=303)
        token = form.get("lease")
        with _state(request).db.write() as conn:
            service.release(conn, task_id[:64], user["id"], token if isinstance(token, str) else "",
                            skip=True)
        return _claim_next(request, user["id"])

    return await run_in_threadpool(act)


@router.post("/work/stop")
async def stop(request: Request) -> Response:
    """Give the held task back (not a skip: it may be offered to this worker again later)."""
    form = await request.form()

    def act() -> Response:
        user = sessions.require(request, "worker")
        if sessions.csrf_ok(request, form.get("csrf_token")):
            task_id, token = form.get("task_id"), form.get("lease")
            if isinstance(task_id, str) and isinstance(token, str):
                with _state(request).db.write() as conn:
                    service.release(conn, task_id[:64], user["id"], token, skip=False)
                flash(request, "Task handed back. See you soon.")
        return RedirectResponse("/work", status_code=303)

    return await run_in_threadpool(act)
