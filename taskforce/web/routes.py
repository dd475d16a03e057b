"""Mounts the web app: sessions, static files, and each area's pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from taskforce.app_state import AppState
from taskforce.web import (
    auth_views,
    dashboard_views,
    operator_customers_views,
    operator_views,
    sessions,
    worker_views,
)
from taskforce.web.templating import STATIC_DIR, render


def install(app: FastAPI, state: AppState) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(auth_views.router)
    for area in (worker_views, operator_views, dashboard_views, operator_customers_views):
        app.include_router(area.router)

    @app.exception_handler(sessions.LoginRequired)
    async def _login_required(request: Request, exc: sessions.LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(dashboard_views.BadForm)
    async def _stale_form(request: Request, exc: dashboard_views.BadForm) -> HTMLResponse:
        return dashboard_views.stale_form(request)

    @app.exception_handler(sessions.Forbidden)
    async def _forbidden(request: Request, exc: sessions.Forbidden) -> HTMLResponse:
        return render(request, "error.html", status_code=403,
                      message="Your account may not open this page.")

    secret = state.settings.secret_key or "insecure-development-key"
    app.add_middleware(SessionMiddleware, secret_key=secret, session_cookie="taskforce_session",
                       max_age=state.settings.session_max_age, same_site="lax")

