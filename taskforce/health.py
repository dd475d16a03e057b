"""``GET /healthz`` (the process answers) and ``GET /readyz`` (the database answers and its
schema is at the migrations' head), for load balancers and orchestrators. Neither needs a key;
neither says more than ok or the reason it is not."""

from __future__ import annotations

import functools
import logging

import orjson
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

log = logging.getLogger(__name__)


@functools.cache
def migrations_head() -> str:
    """The newest revision this code ships (read once from the migration scripts)."""
    from alembic.script import ScriptDirectory

    from taskforce.migrate import MIGRATIONS_DIR

    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head() or ""


def _json(status_code: int, body: dict) -> Response:
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


async def healthz(request: Request) -> Response:
    return _json(200, {"status": "ok"})


def not_ready_reason(db) -> str | None:
    """Why this process should not get traffic, or None when it should."""
    try:
        with db.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        log.warning("readiness check: database unavailable: %s", exc.__class__.__name__)
        return "database unavailable"
    try:
        with db.read() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - no alembic_version table: never migrated
        revision = None
    head = migrations_head()
    if revision != head:
        return f"database schema at {revision or 'none'}, code expects {head}: run taskforce migrate"
    return None


async def readyz(request: Request) -> Response:
    reason = not_ready_reason(request.app.state.taskforce.db)
    if reason is not None:
        return _json(503, {"status": "unavailable", "reason": reason})
    return _json(200, {"status": "ready"})


def install(app) -> None:
    app.add_route("/healthz", healthz, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/readyz", readyz, methods=["GET", "HEAD"], include_in_schema=False)
