"""The callback endpoints of the customer API: what happened to a task's callbacks, and
redelivery on demand.

    GET  /v1/task/{task_id}/callbacks   every delivery and every attempt, oldest first
    POST /v1/task/{task_id}/callback    owe the completed task's callback again, due now
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response

from taskforce.api.v1 import _add, _drain, _principal_or_401, json_response
from taskforce.app_state import AppState
from taskforce.callbacks import queries
from taskforce.callbacks import service as callback_service
from taskforce.clock import format_ms, now_ms
from taskforce.tasks import service

_ERROR = {"type": "object", "required": ["status_code", "error"],
          "properties": {"status_code": {"type": "integer"}, "error": {"type": "string"}}}
_ATTEMPT = {
    "type": "object",
    "properties": {
        "delivery_id": {"type": "integer"},
        "webhook_id": {"type": "string", "description": "The `webhook-id` header sent."},
        "url": {"type": "string"},
        "attempted_at": {"type": "string", "format": "date-time"},
        "status_code": {"type": ["integer", "null"], "description": "Null when no HTTP answer came."},
        "latency_ms": {"type": ["integer", "null"]},
        "error": {"type": ["string", "null"], "description": "Why the attempt failed; null on 2xx."},
    },
}
_DELIVERY = {
    "type": "object",
    "properties": {
        "delivery_id": {"type": "integer"},
        "webhook_id": {"type": "string"},
        "url": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "attempts": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "delivered_at": {"type": ["string", "null"], "format": "date-time"},
        "next_attempt_at": {"type": ["string", "null"], "format": "date-time",
                            "description": "When the next retry is due (pending only)."},
        "last_status_code": {"type": ["integer", "null"]},
        "last_error": {"type": ["string", "null"]},
    },
}
_CALLBACKS = {
    "type": "object",
    "properties": {
        "task_id": {"type": "string"},
        "callback_url": {"type": "string"},
        "callback_succeeded": {"type": ["boolean", "null"]},
        "deliveries": {"type": "array", "items": _DELIVERY},
        "attempts": {"type": "array", "items": _ATTEMPT},
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[int, dict[str, Any]]:
    text = {401: "Missing, unknown or revoked API key", 404: "No such task (or not yours)",
            409: "The task is not completed, so it has no callback"}
    return {code: {"description": text[code], **_json(_ERROR)} for code in codes}


def _attempt(row: dict[str, Any]) -> dict[str, Any]:
    return {"delivery_id": row["delivery_id"], "webhook_id": row["webhook_id"], "url": row["url"],
            "attempted_at": format_ms(row["attempted_at"]), "status_code": row["status_code"],
            "latency_ms": row["latency_ms"], "error": row["error"]}


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    return {"delivery_id": row["id"], "webhook_id": row["webhook_id"], "url": row["url"],
            "status": row["status"], "attempts": row["attempts"],
            "created_at": format_ms(row["created_at"]),
            "delivered_at": format_ms(row["delivered_at"]),
            "next_attempt_at": format_ms(row["next_attempt_at"]) if row["status"] == "pending" else None,
            "last_status_code": row["last_status_code"], "last_error": row["last_error"]}


async def list_callbacks(request: Request, task_id: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    with state.db.read() as conn:
        task = service.get(conn, task_id, customer_id=principal.customer_id, is_test=principal.is_test)
        found = queries.deliveries_for_task(conn, task_id, principal.customer_id)
        attempts = queries.attempts_for_task(conn, task_id, principal.customer_id)
    return json_response({
        "task_id": task["id"],
        "callback_url": task["callback_url"],
        "callback_succeeded": task["callback_succeeded"],
        "deliveries": [_delivery(d) for d in found],
        "attempts": [_attempt(a) for a in attempts],
    })


async def redeliver_callback(request: Request, task_id: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    await _drain(request)  # any body, any content type: ignored
    with state.db.write() as conn:
        delivery_id = callback_service.redeliver(conn, task_id, principal.customer_id, now=now_ms(),
                                                 is_test=principal.is_test)
        delivery = callback_service.get_delivery(conn, delivery_id)
    return json_response({"task_id": task_id, **_delivery(delivery)})


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", redirect_slashes=False)
    _add(router, "/task/{task_id}/callbacks", list_callbacks, ["GET"],
         summary="List a task's callback deliveries and attempts", tags=["callbacks"],
         response_model=None,
         description="Every delivery of the task's callback (one per completion or redelivery) "
                     "and every attempt with its time, HTTP status, latency and error. "
                     "`callback_succeeded` is null while a delivery is still being tried.",
         responses={200: {"description": "The deliveries and attempts", **_json(_CALLBACKS)},
                    **_errors(401, 404)})
    _add(router, "/task/{task_id}/callback", redeliver_callback, ["POST"],
         summary="Redeliver a completed task's callback", tags=["callbacks"], response_model=None,
         description="Sends the callback again, now, with a new `webhook-id` (for example after "
                     "you fixed your endpoint). A delivery still being retried is replaced.",
         responses={200: {"description": "The new delivery", **_json(_DELIVERY)},
                    **_errors(401, 404, 409)})
    return router


def install(app: FastAPI) -> None:
    app.include_router(build_router())
