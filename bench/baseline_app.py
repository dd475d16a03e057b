"""The baseline the benchmarks compare Taskforce with: a minimal Starlette app doing the same
database work with nothing else — no authentication, no validation beyond parsing, no error
shapes. It uses the same engine set-up (taskforce.db.Database: WAL, pool) and the same table.

    POST /v1/task/categorize  parse the body (JSON, or url-encoded), insert one tasks row, return it
    GET  /v1/tasks            one keyset page of 100 (the same SELECT, no total), with next_token
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from urllib.parse import parse_qsl

import orjson
from sqlalchemy import and_, insert, or_, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from taskforce.db import Database
from taskforce.models import tasks

db = Database(os.environ["BASELINE_DATABASE_URL"], pool_size=4)
CUSTOMER_ID = int(os.environ.get("BASELINE_CUSTOMER_ID", "1"))
COLUMNS = [tasks.c.id, tasks.c.type, tasks.c.status, tasks.c.urgency, tasks.c.instruction,
           tasks.c.callback_url, tasks.c.params, tasks.c.metadata, tasks.c.response,
           tasks.c.created_at, tasks.c.completed_at]
NAMES = tuple(str(c.name) for c in COLUMNS)  # plain str: orjson refuses str subclasses as keys


async def create(request: Request) -> Response:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        data = orjson.loads(body)
    else:
        data = {}
        for key, value in parse_qsl(body.decode(), keep_blank_values=True):
            if key.endswith("[]"):
                data.setdefault(key[:-2], []).append(value)
            else:
                data[key] = value
    now = int(time.time() * 1000)
    row = {
        "id": secrets.token_hex(12), "customer_id": CUSTOMER_ID, "is_test": False,
        "type": "categorization", "status": "pending", "urgency": data.get("urgency", "day"),
        "priority": 1, "instruction": data["instruction"], "callback_url": data["callback_url"],
        "params": {"attachment_type": data["attachment_type"], "attachment": data["attachment"],
                   "categories": data["categories"]},
        "metadata": {}, "response": None, "created_at": now, "completed_at": None,
        "callback_succeeded": None,
    }
    with db.write() as conn:
        conn.execute(insert(tasks), row)
    return Response(orjson.dumps(row), media_type="application/json")


async def list_tasks(request: Request) -> Response:
    cond = [tasks.c.customer_id == CUSTOMER_ID, tasks.c.is_test == False]  # noqa: E712
    token = request.query_params.get("next_token")
    if token:
        created, _, task_id = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
        created = int(created)
        cond.append(and_(tasks.c.created_at <= created,
                         or_(tasks.c.created_at < created, tasks.c.id < task_id)))
    query = (select(*COLUMNS).where(*cond)
             .order_by(tasks.c.created_at.desc(), tasks.c.id.desc()).limit(101))
    with db.read() as conn:
        rows = [dict(zip(NAMES, r)) for r in conn.execute(query)]
    more = len(rows) > 100
    rows = rows[:100]
    next_token = (base64.urlsafe_b64encode(f"{rows[-1]['created_at']}:{rows[-1]['id']}".encode())
                  .decode().rstrip("=") if more else None)
    return Response(orjson.dumps({"docs": rows, "next_token": next_token}), media_type="application/json")


app = Starlette(routes=[
    Route("/v1/task/categorize", create, methods=["POST"]),
    Route("/v1/tasks", list_tasks, methods=["GET"]),
])
