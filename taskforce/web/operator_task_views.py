"""The operator's page of one task: what the customer asked (their text escaped, as everywhere),
the response drawn by the type's own ``response.html`` partial (the one the customer's dashboard
uses), every assignment with the answer it gave (drawn the same way), and the callback's
deliveries. Read-only: the actions stay on the pages that list tasks (Queue, Review, Skips)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from taskforce import customers
from taskforce.callbacks import queries as callback_queries
from taskforce.ids import is_task_id
from taskforce.tasks import queries
from taskforce.web import sessions
from taskforce.web.error_pages import error_page
from taskforce.web.operator_views import _operator_page, _state

router = APIRouter(include_in_schema=False)


@router.get("/operator/tasks/{task_id}")
def task_page(request: Request, task_id: str) -> Response:
    sessions.require(request, "operator")
    if not is_task_id(task_id):
        return error_page(request, 404, "There is no such task.")
    with _state(request).db.read() as conn:
        task = queries.whole_task(conn, task_id)
        if task is None:
            return error_page(request, 404, "There is no such task.")
        customer = customers.find_customer(conn, str(task["customer_id"]))
        held = queries.assignments_of(conn, task_id)
        deliveries = callback_queries.deliveries_for_task(conn, task_id, task["customer_id"])
    return _operator_page(request, "operator/task.html", "", task=task, customer=customer,
                          assignments=held, deliveries=deliveries)
