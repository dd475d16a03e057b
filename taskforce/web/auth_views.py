"""Sign in and out; ``/`` sends each role to its home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from taskforce import accounts
from taskforce.rate_limits import retry_text
from taskforce.web import sessions
from taskforce.web.templating import render

router = APIRouter(include_in_schema=False)

HOME = {"worker": "/work", "operator": "/operator", "customer": "/dashboard"}


@router.get("/")
def home(request: Request) -> Response:
    user = sessions.current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME[user["role"]], status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(request, "login.html", error=None, email="")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    if not sessions.csrf_ok(request, form.get("csrf_token")):
        return render(request, "login.html", status_code=400, error="Your session expired; please try again.",
                      email="")
    email = str(form.get("email", ""))[:254]
    password = str(form.get("password", ""))[:1000]
    state = request.app.state.taskforce
    failures = state.limits.login_failures
    attempt = (client_address(request), email.strip().lower())
    wait = failures.peek_seconds(attempt)
    if wait > 0:
        return render(request, "login.html", status_code=429, email=email,
                      error=f"Too many failed sign-ins. Try again in {retry_text(wait)}.")

    def verify() -> dict | None:
        # Off the event loop: argon2 takes tens of milliseconds by design.
        with state.db.write() as conn:
            return accounts.verify_login(conn, email, password)

    user = await run_in_threadpool(verify)
    if user is None:
        failures.charge(attempt)
        return render(request, "login.html", status_code=400, error="Wrong email or password.", email=email)
    sessions.sign_in(request, user)
    return RedirectResponse(HOME[user["role"]], status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    if sessions.csrf_ok(request, form.get("csrf_token")):
        sessions.sign_out(request)
    return RedirectResponse("/login", status_code=303)
