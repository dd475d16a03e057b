"""The answers behind a task's response (issue 10).

    GET /v1/task/{task_id}/answers   each submitted answer: a pseudonymous worker, the response,
                                     the time it took and the weight it got when combined

Workers are named by a stable pseudonym: an HMAC of the worker's id under the customer's id and
the application secret, so one customer can follow one worker across its tasks but cannot tell
who they are, nor match them with another customer's pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import bindparam, select
from starlette.responses import Response

from taskforce.api import schemas
from taskforce.api.v1 import _add, _principal_or_401, json_response
from taskforce.app_state import AppState
from taskforce.clock import format_ms
from taskforce.models import assignments
from taskforce.tasks import service

_ANSWERS = (
    select(assignments.c.worker_id, assignments.c.simulated_worker, assignments.c.answer,
           assignments.c.claimed_at, assignments.c.finished_at)
    .where(assignments.c.task_id == bindparam("b_id"), assignments.c.outcome == "submitted")
    .order_by(assignments.c.finished_at, assignments.c.id)
)


def worker_ref(secret: str, customer_id: int, worker_id: int | None, simulated: int | None) -> str:
    """The stable pseudonym a customer sees for a worker (``sim-N`` for test mode's simulated crowd)."""
    if worker_id is None:
        return f"sim-{simulated}" if simulated is not None else "sim"
    key = hashlib.sha256(b"taskforce-worker-ref:" + (secret or "insecure-development-key").encode()).digest()
    digest = hmac.new(key, f"{customer_id}:{worker_id}".encode(), hashlib.sha256).hexdigest()
    return "w_" + digest[:20]


def answers_object(secret: str, task: dict[str, Any], rows) -> dict[str, Any]:
    weights = (task.get("quality") or {}).get("weights") or []
    out = []
    for i, r in enumerate(rows):
        out.append({
            "worker": worker_ref(secret, task["customer_id"], r.worker_id, r.simulated_worker),
            "response": r.answer,
            "duration_ms": None if r.finished_at is None else max(0, r.finished_at - r.claimed_at),
            # The weight the answer got when the task's answers were last combined (null before).
            "weight": weights[i] if i < len(weights) else None,
            "submitted_at": format_ms(r.finished_at) if r.finished_at is not None else None,
        })
    return {"task_id": task["id"], "answers": out}


async def list_answers(request: Request, task_id: str) -> Response:
    state: AppState = request.app.state.taskforce
    principal = await _principal_or_401(request)
    if isinstance(principal, Response):
        return principal
    with state.db.read() as conn:
        task = service.get(conn, task_id, customer_id=principal.customer_id, is_test=principal.is_test)
        rows = conn.execute(_ANSWERS, {"b_id": task_id}).all()
    return json_response(answers_object(state.settings.secret_key, task, rows))


ANSWERS_SCHEMA = {
    "type": "object", "required": ["task_id", "answers"],
    "properties": {
        "task_id": {"type": "string"},
        "answers": {"type": "array", "items": {
            "type": "object", "required": ["worker", "response", "duration_ms", "weight", "submitted_at"],
            "properties": {
                "worker": {"type": "string", "description": "A stable pseudonym of the worker, per customer."},
                "response": {"type": "object"},
                "duration_ms": {"type": ["integer", "null"], "description": "From claim to submit."},
                "weight": {"type": ["number", "null"], "description": "The weight it got when combined."},
                "submitted_at": {"type": ["string", "null"], "format": "date-time"},
            },
        }},
    },
}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", redirect_slashes=False)
    _add(router, "/task/{task_id}/answers", list_answers, ["GET"],
         **schemas.operation("List the workers' answers to a task", "tasks", "The answers", ANSWERS_SCHEMA,
                             401, 404, description="Each submitted answer, oldest first, with the "
                             "worker's pseudonym, the time it took and the weight it got when combined."))
    return router


def install(app: FastAPI) -> None:
    app.include_router(build_router())
