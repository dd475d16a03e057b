"""The operator's Set aside page: what the background loops gave up on (test tasks the simulated
worker cannot complete, callbacks the dispatcher cannot send), each logged once when set aside
and listed here until an operator retries it (the mark is cleared and the loop tries again) or
closes it (the test task is canceled; the delivery is dismissed and reads as failed).

Retrying is for after the cause is mended (a bad deploy, a migration, a full disk): a row that
still cannot be processed is simply set aside again."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from taskforce.callbacks import dispatcher
from taskforce.clock import now_ms
from taskforce.errors import NotFound
from taskforce.ids import is_ascii_number
from taskforce.tasks import simulator
from taskforce.web import sessions
from taskforce.web.forms import flash
from taskforce.web.operator_views import _operator_page, _post, _state, _task_id

router = APIRouter(include_in_schema=False)

BACK = "/operator/set-aside"


@router.get("/operator/set-aside")
def set_aside_page(request: Request) -> Response:
    sessions.require(request, "operator")
    with _state(request).db.read() as conn:
        held = simulator.set_aside(conn)
        deliveries = dispatcher.set_aside_deliveries(conn)
    return _operator_page(request, "operator/set_aside.html", "Set aside", held=held,
                          deliveries=deliveries)


def _delivery_id(raw: str) -> int:
    if not is_ascii_number(raw) or len(raw) > 12:
        raise NotFound("no such delivery")
    return int(raw)


@router.post("/operator/set-aside/tasks/{task_id}/retry")
async def retry_task(request: Request, task_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        with _state(request).db.write() as conn:
            done = simulator.retry_set_aside(conn, _task_id(task_id))
        if done:
            flash(request, f"The simulated worker will try test task {task_id} again.", "ok")
        else:
            flash(request, f"Test task {task_id} is not set aside (retried, canceled or answered meanwhile).")

    return await _post(request, BACK, action)


@router.post("/operator/set-aside/tasks/{task_id}/cancel")
async def cancel_task(request: Request, task_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        with _state(request).db.write() as conn:
            done = simulator.cancel_set_aside(conn, _task_id(task_id), now=now_ms())
        if done:
            flash(request, f"Test task {task_id} is canceled.", "ok")
        else:
            flash(request, f"Test task {task_id} is not set aside (retried, canceled or answered meanwhile).")

    return await _post(request, BACK, action)


@router.post("/operator/set-aside/deliveries/{delivery_id}/retry")
async def retry_delivery(request: Request, delivery_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        with _state(request).db.write() as conn:
            done = dispatcher.retry_set_aside(conn, _delivery_id(delivery_id), now=now_ms())
        if done:
            flash(request, f"Delivery {delivery_id} is owed again; the dispatcher sends it in a moment.", "ok")
        else:
            flash(request, f"Delivery {delivery_id} was not retried: it is not set aside, or a newer "
                           "delivery of the same callback exists.")

    return await _post(request, BACK, action)


@router.post("/operator/set-aside/deliveries/{delivery_id}/dismiss")
async def dismiss_delivery(request: Request, delivery_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        with _state(request).db.write() as conn:
            done = dispatcher.dismiss_set_aside(conn, _delivery_id(delivery_id))
        if done:
            flash(request, f"Delivery {delivery_id} is dismissed: it stays failed.", "ok")
        else:
            flash(request, f"Delivery {delivery_id} is not set aside.")

    return await _post(request, BACK, action)
