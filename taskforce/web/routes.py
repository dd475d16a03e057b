"""Mounts the web app: sessions, static files, and each area's pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from taskforce.app_state import AppState
from taskforce.web import (
    auth_views,
    dashboard_views,
    error_pages,
    forms,
    operator_customers_views,
    operator_quality_views,
    operator_set_aside_views,
    operator_task_views,
    operator_views,
    sessions,
    worker_views,
)
from taskforce.web.templating import STATIC_DIR


class PageSessions(SessionMiddleware):
    """Sessions for the web pages only. The API authenticates by key and never by cookie, so its
    requests skip the cookie's parsing and re-signing (measured: a few percent of a create)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def install(app: FastAPI, state: AppState) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(auth_views.router)
    for area in (worker_views, operator_quality_views, operator_set_aside_views, operator_task_views,
                 operator_views, dashboard_views, operator_customers_views):
        app.include_router(area.router)

    error_pages.install(app)

    @app.exception_handler(sessions.LoginRequired)
    async def _login_required(request: Request, exc: sessions.LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(forms.StaleForm)
    async def _stale_form(request: Request, exc: forms.StaleForm) -> Response:
        return forms.stale_form(request)

    @app.exception_handler(sessions.Forbidden)
    async def _forbidden(request: Request, exc: sessions.Forbidden) -> Response:
        return error_pages.error_page(request, 403, "Your account may not open this page.")

    secret = state.settings.secret_key or "insecure-development-key"
    # https_only marks the cookie Secure: browsers then send it over HTTPS only (behind a TLS
    # proxy, set TASKFORCE_SESSION_COOKIE_SECURE=true).
    app.add_middleware(PageSessions, secret_key=secret, session_cookie="taskforce_session",
                       max_age=state.settings.session_max_age, same_site="lax",
                       https_only=state.settings.session_cookie_secure)

