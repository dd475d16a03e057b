"""create_app(settings) → the ASGI app: the customer API, the web pages and the background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI

from taskforce import health, metrics, request_log
from taskforce.api import errors as api_errors
from taskforce.api import answers_api, batches_api, callbacks_api, files_api, projects_api, task_extras_api, v1
from taskforce.app_state import AppState
from taskforce.config import Settings
from taskforce.db import Database
from taskforce.files import serving as file_serving
from taskforce.storable_text import StorableTextOnly
from taskforce.web import security

log = logging.getLogger(__name__)

#: Background loops started with the app: each takes the AppState and runs until cancelled.
BackgroundLoop = Callable[[AppState], Awaitable[None]]


#: How often a server process looks for re-fitted skill models to parse ahead of requests.
SKILL_MODEL_WARM_SECONDS = 5.0


async def skill_model_warm_loop(state: AppState) -> None:
    """Parse the stored skill models before a completing transaction needs them (quality/store.py):
    at start-up, then whenever a re-fit stored a new version. Every process that serves requests
    runs it, whether or not it runs the dispatcher."""
    from taskforce.quality import store

    while True:
        try:
            await asyncio.to_thread(store.warm, state.db)
        except Exception:  # noqa: BLE001 - the database may be briefly unavailable; requests still load
            log.warning("warming the skill models failed; retrying", exc_info=True)
        await asyncio.sleep(SKILL_MODEL_WARM_SECONDS)


def background_loops(settings: Settings) -> list[BackgroundLoop]:
    """The loops ``serve`` runs in-process (callback dispatcher, test-mode simulated worker)."""
    loops: list[BackgroundLoop] = [skill_model_warm_loop]
    if settings.run_dispatcher:
        from taskforce.callbacks import runtime

        loops.extend(runtime.loops())
    return loops


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    state = AppState(settings=settings, db=db or Database.for_settings(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        running = [asyncio.create_task(loop(state)) for loop in background_loops(settings)]
        try:
            yield
        finally:
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    app = FastAPI(
        title="Taskforce",
        version="1.0",
        description="Self-hosted human tasks behind the Scale API v1. Authenticate with HTTP Basic "
        "auth: your API key as the username, an empty password.",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # api/openapi.py serves /docs with local assets
        redoc_url=None,
    )
    app.state.taskforce = state
    api_errors.install(app)
    v1.install(app)
    callbacks_api.install(app)
    for resource in (projects_api, batches_api, files_api, task_extras_api, answers_api, file_serving):
        resource.install(app)
    from taskforce.web import routes as web_routes

    web_routes.install(app, state)
    app.add_middleware(StorableTextOnly)  # outside the sessions, inside the security headers
    health.install(app)
    metrics.install(app)
    security.install(app, settings)
    request_log.install(app)  # outermost: times and logs everything, errors included
    return app
