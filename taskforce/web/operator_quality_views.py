"""The operator's quality pages and actions: the gold rules and a worker's reinstatement (on the
Workers page), turning a completed task into gold, and the Review queue (accept one answer,
write the response, or send the task back for one more answer; for an answer the customer
rejected, correct it or keep it).

Every change is a POST with the session's CSRF token, answered with a redirect and a message."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from taskforce.api import bodies
from taskforce.errors import InvalidParameter
from taskforce.ids import is_ascii_number
from taskforce.quality import gold, review
from taskforce.quality.worker_skill import worker_skills
from taskforce.web import sessions
from taskforce.web.forms import flash, text
from taskforce.web.operator_views import _operator_page, _post, _state, _task_id, _worker

router = APIRouter(include_in_schema=False)


@router.post("/operator/workers/{worker_id}/reinstate")
async def reinstate_worker(request: Request, worker_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        with _state(request).db.write() as conn:
            worker = _worker(conn, worker_id)
            gold.reinstate(conn, worker["id"])
        flash(request, f"{worker['email']} gets real tasks again.", "ok")

    return await _post(request, "/operator/workers", action)


def _number(form: FormData, name: str, kind: type) -> Any:
    raw = text(form, name, 20).strip()
    try:
        return kind(raw)
    except ValueError:
        raise InvalidParameter(name, "must be a number") from None


@router.post("/operator/workers/rules")
async def set_rules(request: Request) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        percent = _number(form, "min_accuracy", float)
        answers = _number(form, "min_answers", int)
        with _state(request).db.write() as conn:
            gold.set_rules(conn, min_accuracy=percent / 100, min_answers=answers)
        flash(request, f"Workers below {percent:g}% on gold after {answers} gold answers are paused.", "ok")

    return await _post(request, "/operator/workers", action)


@router.post("/operator/gold")
async def make_gold(request: Request) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        task_id = _task_id(text(form, "task_id", 64).strip())
        with _state(request).db.write() as conn:
            made = gold.from_completed_task(conn, task_id)
        flash(request, f"Gold task {made['id']} made from task {task_id}; its response is the expected answer.", "ok")

    back = request.headers.get("referer", "")
    return await _post(request, "/operator/review" if "/operator/review" in back else "/operator/workers", action)


# -- the Review queue ---------------------------------------------------------------------------


@router.get("/operator/review")
def review_page(request: Request) -> Response:
    sessions.require(request, "operator")
    with _state(request).db.read() as conn:
        waiting = review.queue(conn)
        rejected = review.rejected(conn)
        skills = worker_skills(conn, [a["worker_id"] for t in (*waiting, *rejected) for a in t["answers"]
                                      if a["worker_id"]])
    for task in waiting:
        proposal = task["proposal"]
        task["proposal_json"] = json.dumps(proposal.response if proposal else
                                           (task["answers"][-1]["answer"] if task["answers"] else {}),
                                           indent=2, ensure_ascii=False)
    for task in rejected:
        task["response_json"] = json.dumps(task["response"], indent=2, ensure_ascii=False)
    return _operator_page(request, "operator/review.html", "Review", waiting=waiting, rejected=rejected,
                          skills=skills)


def _response(form: FormData) -> Any:
    """The operator's written response (JSON), refused as ``response`` when it does not parse."""
    try:
        return bodies.parse_json(text(form, "response", 200_000).encode())
    except InvalidParameter as exc:
        raise InvalidParameter("response", exc.problem) from None


@router.post("/operator/review/{task_id}/accept")
async def accept(request: Request, task_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        raw = text(form, "answer", 20)
        if not is_ascii_number(raw) or len(raw) > 12:
            raise InvalidParameter("answer", "choose one of the answers")
        with _state(request).db.write() as conn:
            review.accept_answer(conn, _task_id(task_id), int(raw), user["id"])
        flash(request, f"Task {task_id} is completed with the answer you accepted; its callback is on its way.", "ok")

    return await _post(request, "/operator/review", action)


@router.post("/operator/review/{task_id}/edit")
async def edit(request: Request, task_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        response = _response(form)
        with _state(request).db.write() as conn:
            review.finish_review(conn, _task_id(task_id), response, user["id"])
        flash(request, f"Task {task_id} is completed with your response; its callback is on its way.", "ok")

    return await _post(request, "/operator/review", action)


@router.post("/operator/review/{task_id}/more")
async def more(request: Request, task_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        with _state(request).db.write() as conn:
            review.send_back(conn, _task_id(task_id))
        flash(request, f"Task {task_id} went back to the workers for one more answer.", "ok")

    return await _post(request, "/operator/review", action)


@router.post("/operator/review/{task_id}/fix")
async def fix(request: Request, task_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        response = _response(form)
        with _state(request).db.write() as conn:
            review.fix_rejected(conn, _task_id(task_id), response, user["id"])
        flash(request, f"Task {task_id} has your corrected response; the customer's audit is now fixed and "
                       "a new callback is on its way.", "ok")

    return await _post(request, "/operator/review", action)


@router.post("/operator/review/{task_id}/keep")
async def keep(request: Request, task_id: str) -> Response:
    def action(form: FormData, user: dict[str, Any]) -> None:
        with _state(request).db.write() as conn:
            review.keep_rejected(conn, _task_id(task_id), user["id"])
        flash(request, f"Task {task_id} keeps its response; no new callback is sent.", "ok")

    return await _post(request, "/operator/review", action)
