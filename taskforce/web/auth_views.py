"""Sign in and out; ``/`` sends each role to its home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from taskforce import accounts
from taskforce.rate_limits import retry_text
from taskforce.web import sessions
from taskforce.web.forms import csrf_ok, read_form, text
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
    """The peer's address; a proxy's X-Forwarded-For replaces it only when ``serve`` was told to
    trust that proxy (Settings.trusted_proxies, applied by uvicorn before the app sees it)."""
    return request.client.host if request.client else "unknown"


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    if not csrf_ok(request, form):
        return render(request, "login.html", status_code=400, error="Your session expired; please try again.",
                      email="")
    email = text(form, "email", 254)
    password = text(form, "password")
    state = request.app.state.taskforce
    failures = state.limits.login_failures
    account = accounts.normalize_email(email)
    # Per address and account, and per account whatever the address: a guesser who changes
    # address on every try still meets the second.
    keys = [("address", client_address(request), account), ("account", account)]
    wait = max(failures.peek_seconds(key) for key in keys)
    if wait > 0:
        return render(request, "login.html", status_code=429, email=email,
                      error=f"Too many failed sign-ins. Try again in {retry_text(wait)}.")

    def verify() -> dict | None:
        # Off the event loop, and argon2 (tens of milliseconds by design) outside any
        # transaction: SQLite's write lock is held only to record the sign-in.
        with state.db.read() as conn:
            candidate = accounts.login_candidate(conn, email)
        check = accounts.check_password(candidate, password)
        if candidate is None or not check.ok:
            return None
        with state.db.write() as conn:
            return accounts.record_login(conn, candidate, check)

    user = await run_in_threadpool(verify)
    if user is None:
        for key in keys:
            failures.charge(key)
        return render(request, "login.html", status_code=400, error="Wrong email or password.", email=email)
    sessions.sign_in(request, user)
    return RedirectResponse(HOME[user["role"]], status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await read_form(request)
    if csrf_ok(request, form):
        await run_in_threadpool(sessions.sign_out, request)
    return RedirectResponse("/login", status_code=303)
