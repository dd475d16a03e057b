"""taskforce serve | dispatch | migrate | demo | set-aside | customers | keys | workers | users |
tasks | backup."""

from __future__ import annotations

import functools
import logging
import os
import secrets
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from taskforce.config import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Taskforce: human tasks behind the Scale API v1.")
customers_cli = typer.Typer(no_args_is_help=True, help="Customer accounts and their secrets.")
keys_cli = typer.Typer(no_args_is_help=True, help="API keys.")
workers_cli = typer.Typer(no_args_is_help=True, help="Worker accounts.")
users_cli = typer.Typer(no_args_is_help=True, help="Operators and customer users.")
app.add_typer(customers_cli, name="customers")
app.add_typer(keys_cli, name="keys")
app.add_typer(workers_cli, name="workers")
app.add_typer(users_cli, name="users")
# The operator's bulk and safety commands live in their own module.
from taskforce.cli_ops import backup_command, tasks_cli  # noqa: E402

app.add_typer(tasks_cli, name="tasks")
app.command("backup")(backup_command)


def load_settings() -> Settings:
    settings = Settings()
    if not settings.secret_key:
        settings.secret_key = _stored_secret(settings)
    return settings


def _stored_secret(settings: Settings) -> str:
    """A secret key kept beside the SQLite database (or in ./var), made on first use."""
    path = Path(os.environ.get("TASKFORCE_SECRET_FILE", "var/secret_key"))
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _db(settings: Settings):
    from taskforce.db import Database

    return Database(settings.database_url, pool_size=2)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from taskforce import migrate as migrations

    settings = load_settings()
    migrations.upgrade(settings.database_url)
    typer.echo(f"database at head: {settings.database_url}")


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, min=1, max=65535, help="Port (default 8000)."),
    workers: int = typer.Option(1, help="API processes."),
    no_dispatcher: bool = typer.Option(False, "--no-dispatcher", help="Run no callback dispatcher here."),
) -> None:
    """Serve the API and the web app."""
    import uvicorn

    settings = load_settings()
    if no_dispatcher:
        settings.run_dispatcher = False
    host = host or settings.host
    port = port or settings.port
    _db(settings).dispose()  # a malformed database URL is one line here, not a worker's traceback
    # Children read their settings from the environment, so pass what we decided on.
    os.environ["TASKFORCE_SECRET_KEY"] = settings.secret_key
    os.environ["TASKFORCE_RUN_DISPATCHER"] = "true" if settings.run_dispatcher else "false"
    _size_pools(settings, workers)
    metrics_dir = _metrics_dir(workers)
    typer.echo(f"Taskforce on http://{host}:{port}  (database: {settings.database_url}, "
               f"{workers} process{'es' if workers > 1 else ''})")
    from taskforce.http_server import uvicorn_options

    # uvicorn re-raises the signal that stopped it once it has shut down cleanly; with these
    # handlers in place that ends the command normally (exit 0) instead of killing it.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    try:
        # On SIGTERM uvicorn stops accepting, lets requests in flight finish (up to the grace),
        # then the lifespan lets callbacks in flight finish (the same grace) and exits 0.
        uvicorn.run("taskforce.cli:app_from_env", factory=True, host=host, port=port,
                    workers=workers, loop="uvloop", log_level="warning", access_log=False,
                    timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
                    **uvicorn_options(settings))
    finally:
        if metrics_dir is not None:
            import shutil

            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_dir(workers: int) -> str | None:
    """Turn on prometheus-client's multiprocess mode for N workers (metrics.py): a fresh folder of
    this run's counters, removed at exit. An operator's own PROMETHEUS_MULTIPROC_DIR (shared with
    ``taskforce dispatch`` processes on this host) is kept but emptied: the counters restart."""
    from taskforce.metrics import MULTIPROC_ENV

    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink(missing_ok=True)
        return None
    if workers <= 1:
        return None
    import tempfile

    made = tempfile.mkdtemp(prefix="taskforce-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return made


#: Connections left for everything that is not this host's API processes (dispatchers, other
#: hosts' operators, psql, migrations) when the pool of N processes would not fit max_connections.
_PG_RESERVE = 20


def _size_pools(settings: Settings, workers: int) -> None:
    """Keep N processes × (pool + overflow) within PostgreSQL's max_connections; the children
    read the result from the environment. SQLite connections are files: nothing to size."""
    if settings.is_sqlite:
        return
    from sqlalchemy import create_engine, text

    # Plus the wake-up listener's own connection when the process runs the background loops.
    listener = 1 if settings.run_dispatcher else 0
    per_process = settings.database_pool_size + settings.database_max_overflow
    try:
        engine = create_engine(settings.database_url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
            reserved = int(conn.execute(text("SHOW superuser_reserved_connections")).scalar_one())
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - the server may come up later; serve anyway
        typer.echo(f"warning: could not read max_connections ({exc.__class__.__name__}); "
                   f"each process may open {per_process} connections", err=True)
        return
    budget = max(limit - reserved - _PG_RESERVE - workers * listener, workers * 2)
    if workers * per_process > budget:
        per_process = max(2, budget // workers)
        pool = max(1, per_process // 3)
        settings.database_pool_size, settings.database_max_overflow = pool, per_process - pool
        typer.echo(f"{workers} processes × {per_process} connections fit max_connections={limit}: "
                   f"pool {pool} + overflow {per_process - pool} per process")
    os.environ["TASKFORCE_DATABASE_POOL_SIZE"] = str(settings.database_pool_size)
    os.environ["TASKFORCE_DATABASE_MAX_OVERFLOW"] = str(settings.database_max_overflow)


def app_from_env():
    """The ASGI app for uvicorn's workers, built from the environment."""
    from taskforce.app import create_app
    from taskforce.http_server import DeadlineHttpToolsProtocol
    from taskforce.request_log import configure_logging

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    DeadlineHttpToolsProtocol.configure(settings)  # this process's connections, from now on
    return create_app(settings)


@app.command()
def dispatch() -> None:
    """Run the callback dispatcher alone (no HTTP server)."""
    import asyncio
    import logging
    import signal

    import uvloop

    from taskforce.app_state import AppState
    from taskforce.callbacks import runtime
    from taskforce.callbacks.address_policy import parse_networks
    from taskforce.db import Database
    from taskforce.request_log import configure_logging

    settings = load_settings()
    try:
        parse_networks(settings.callback_allowed_networks)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    configure_logging(settings.log_format, settings.log_level)
    state = AppState(settings=settings, db=Database.for_settings(settings))

    async def main() -> None:
        running = [asyncio.create_task(loop(state)) for loop in runtime.loops()]

        def stop() -> None:
            for task in running:
                task.cancel()

        # SIGTERM or Ctrl-C: claim nothing new, let sends in flight finish (shutdown grace),
        # hand back the rest, exit 0. What is owed stays in the outbox for the next start.
        # (Not gather: it would return at the first loop's cancellation, cutting the others'
        # clean-up short.)
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop)
        await asyncio.wait(running)

    typer.echo("dispatcher (callbacks and the test-mode worker) running; Ctrl-C stops it")
    uvloop.run(main())  # aiohttp on uvloop: the measured choice (docs/decisions.md)
    logging.getLogger("taskforce.dispatch").info("dispatcher stopped")


@customers_cli.command("create")
def customers_create(name: str) -> None:
    """Create a customer (with its callback auth key and signing secret)."""
    from taskforce import customers

    from taskforce.errors import InvalidParameter

    name = name.strip()
    if not name or len(name) > 200 or "\x00" in name:
        raise InvalidParameter("name", "must be 1 to 200 characters (no NUL)")
    settings = load_settings()
    with _db(settings).write() as conn:
        customer_id = customers.create_customer(conn, name)
        row = customers.find_customer(conn, str(customer_id))
    typer.echo(f"customer {customer_id}: {name}")
    typer.echo(f"callback auth key: {row['callback_auth_key']}")


@customers_cli.command("show")
def customers_show(customer: str) -> None:
    """Show a customer's callback auth key and signing secret."""
    from taskforce import customers

    from taskforce.clock import format_ms, now_ms
    from taskforce.errors import NotFound

    with _db(load_settings()).read() as conn:
        try:
            row = customers.find_customer(conn, customer)
        except NotFound as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(1) from None
    typer.echo(f"customer {row['id']}: {row['name']}")
    typer.echo(f"callback auth key: {row['callback_auth_key']}")
    typer.echo(f"signing secret:    {row['signing_secret']}")
    expires = row["previous_secret_expires_at"]
    if row["previous_signing_secret"] and expires and expires > now_ms():
        typer.echo(f"previous secret:   {row['previous_signing_secret']} "
                   f"(also signs until {format_ms(expires)})")


@customers_cli.command("rotate")
def customers_rotate(
    customer: str,
    callback_auth_key: bool = typer.Option(False, "--callback-auth-key", help="Rotate the callback auth key."),
    signing_secret: bool = typer.Option(False, "--signing-secret", help="Rotate the signing secret."),
) -> None:
    """Rotate a customer's callback auth key and/or signing secret."""
    from taskforce import customers

    settings = load_settings()
    if not (callback_auth_key or signing_secret):
        raise typer.BadParameter("say --callback-auth-key, --signing-secret or both")
    from taskforce.errors import NotFound

    with _db(settings).write() as conn:
        try:
            row = customers.find_customer(conn, customer)
        except NotFound as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(1) from None
        if callback_auth_key:
            typer.echo(f"callback auth key: {customers.rotate_callback_auth_key(conn, row['id'])}")
        if signing_secret:
            secret = customers.rotate_signing_secret(conn, row["id"], grace_seconds=settings.signing_secret_grace_seconds)
            grace = settings.signing_secret_grace_seconds
            typer.echo(f"signing secret:    {secret} (the old one signs too for "
                       + (f"{grace / 3600:g} h)" if grace >= 3600 else f"{grace} s)"))


@keys_cli.command("create")
def keys_create(
    customer: str,
    live: bool = typer.Option(False, "--live", help="A live key (tasks go to people)."),
    test: bool = typer.Option(False, "--test", help="A test key (a simulated worker answers)."),
    name: str = typer.Option("", "--name", help="A label for the key, shown in the key list."),
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from taskforce import customers
    from taskforce.errors import InvalidParameter

    if live == test:
        raise typer.BadParameter("say exactly one of --live or --test")
    try:
        key_name = customers.key_name(name)
    except InvalidParameter as exc:
        typer.echo(f"--name: {exc.problem}", err=True)
        raise typer.Exit(1) from None
    with _db(load_settings()).write() as conn:
        row = customers.find_customer(conn, customer)
        key = customers.create_api_key(conn, row["id"], "live" if live else "test", name=key_name)
    typer.echo(key)


@keys_cli.command("list")
def keys_list(
    customer: str,
    mode: str = typer.Option("", "--mode", help="Only live or only test keys."),
) -> None:
    """List a customer's API keys: prefix (what `keys revoke` takes), mode, created, last used,
    revoked, name. The keys themselves are stored only as hashes and never shown again."""
    from taskforce import customers
    from taskforce.clock import format_ms

    if mode and mode not in customers.MODES:
        typer.echo(f"--mode: must be live or test, not {mode[:20]!r}", err=True)
        raise typer.Exit(1)
    with _db(load_settings()).read() as conn:
        row = customers.find_customer(conn, customer)
        keys = [k for k in customers.list_api_keys(conn, row["id"]) if not mode or k["mode"] == mode]
    if not keys:
        typer.echo(f"{row['name']} has no {mode + ' ' if mode else ''}API keys")
        return

    def when(ms: int | None, empty: str) -> str:
        return (format_ms(ms) or "")[:19].replace("T", " ") if ms else empty

    typer.echo(f"{'PREFIX':<15}{'MODE':<6}{'CREATED (UTC)':<21}{'LAST USED':<21}{'REVOKED':<21}NAME")
    for k in keys:
        typer.echo(f"{k['prefix']:<15}{k['mode']:<6}{when(k['created_at'], ''):<21}"
                   f"{when(k['last_used_at'], 'never'):<21}{when(k['revoked_at'], 'no'):<21}{k['name'] or ''}")


@keys_cli.command("revoke")
def keys_revoke(prefix: str) -> None:
    """Revoke the key that starts with PREFIX (its first 13 characters, as lists show)."""
    from taskforce import customers

    with _db(load_settings()).write() as conn:
        done = customers.revoke_api_key(conn, prefix)
    if not done:
        typer.echo(f"no active key starts with {prefix!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {prefix}")


def _password(password: str | None) -> str:
    return password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)


def _worker_or_exit(conn, email: str) -> dict:
    from taskforce import accounts
    from taskforce.errors import NotFound

    try:
        user = accounts.find_by_email(conn, email)
    except NotFound:
        user = None
    if user is None or user["role"] != "worker":
        typer.echo(f"no worker with email {email}", err=True)
        raise typer.Exit(1)
    return user


def _refuse(exc: Exception) -> typer.Exit:
    typer.echo(getattr(exc, "message", str(exc)), err=True)
    return typer.Exit(1)


@workers_cli.command("create")
def workers_create(email: str, password: str = typer.Option(None, help="Prompted for when not given.")) -> None:
    """Create a worker account (they sign in at /login and press Start working)."""
    from taskforce import accounts
    from taskforce.errors import Conflict, InvalidParameter

    password = _password(password)  # asked before the transaction, which holds SQLite's write lock
    try:
        with _db(load_settings()).write() as conn:
            user_id = accounts.create_user(conn, email, password, "worker")
    except (Conflict, InvalidParameter) as exc:
        raise _refuse(exc) from None
    typer.echo(f"worker {user_id}: {accounts.normalize_email(email)}")


@workers_cli.command("deactivate")
def workers_deactivate(email: str) -> None:
    """Stop a worker from signing in or submitting; the task they hold goes back to the queue."""
    from taskforce import accounts
    from taskforce.tasks import service

    with _db(load_settings()).write() as conn:
        worker = _worker_or_exit(conn, email)
        accounts.set_active(conn, worker["id"], False)
        released = service.release_worker_leases(conn, worker["id"])
    typer.echo(f"deactivated {worker['email']}" + (f" (released {released} task)" if released else ""))


@workers_cli.command("reactivate")
def workers_reactivate(email: str) -> None:
    """Let a deactivated worker sign in again."""
    from taskforce import accounts

    with _db(load_settings()).write() as conn:
        worker = _worker_or_exit(conn, email)
        accounts.set_active(conn, worker["id"], True)
    typer.echo(f"reactivated {worker['email']}")


@workers_cli.command("reset-password")
def workers_reset_password(email: str, password: str = typer.Option(None, help="Prompted for when not given.")) -> None:
    """Set a new password for a worker."""
    from taskforce import accounts
    from taskforce.errors import InvalidParameter

    settings = load_settings()
    with _db(settings).read() as conn:
        _worker_or_exit(conn, email)
    password = _password(password)
    try:
        with _db(settings).write() as conn:
            accounts.set_password(conn, _worker_or_exit(conn, email)["id"], password)
    except InvalidParameter as exc:
        raise _refuse(exc) from None
    typer.echo(f"new password set for {accounts.normalize_email(email)}")


@workers_cli.command("list")
def workers_list() -> None:
    """Every worker: active or not, tasks done today and this week (UTC), median time per task."""
    from taskforce import accounts
    from taskforce.workforce_stats import format_duration, worker_figures

    settings = load_settings()
    with _db(settings).read() as conn:
        workers = accounts.list_users(conn, "worker")
        figures = worker_figures(conn, [w["id"] for w in workers], lease_seconds=settings.lease_seconds)
    if not workers:
        typer.echo("no workers yet: taskforce workers create EMAIL")
        return
    width = max(len(w["email"]) for w in workers)
    typer.echo(f"{'email':<{width}}  status       today   week  median per task (this week)")
    for w in workers:
        f = figures[w["id"]]
        medians = ", ".join(f"{t} {format_duration(ms)}" for t, ms in f.median_ms.items()) or "-"
        status = "active" if w["active"] else "deactivated"
        typer.echo(f"{w['email']:<{width}}  {status:<11} {f.done_today:>6} {f.done_this_week:>6}  {medians}")


@users_cli.command("create-operator")
def users_create_operator(email: str, password: str = typer.Option(None, help="Prompted for when not given.")) -> None:
    """Create an operator (runs the workforce and the customers)."""
    from taskforce import accounts

    password = _password(password)  # asked before the transaction, which holds SQLite's write lock
    with _db(load_settings()).write() as conn:
        user_id = accounts.create_user(conn, email, password, "operator")
    typer.echo(f"operator {user_id}: {accounts.normalize_email(email)}")


@users_cli.command("invite")
def users_invite(
    customer: str,
    email: str,
    password: str = typer.Option(None, help="Prompted for when not given."),
    generate: bool = typer.Option(False, "--generate-password",
                                  help="Make a random password and print it once."),
) -> None:
    """Create a dashboard user for CUSTOMER (its id or exact name)."""
    from taskforce import accounts, customers
    from taskforce.errors import TaskforceError

    # Asked before the transaction opens: a prompt must not hold the database's write lock.
    if generate:
        password = secrets.token_urlsafe(12)
    password = _password(password)
    try:
        with _db(load_settings()).write() as conn:
            row = customers.find_customer(conn, customer)
            user_id = accounts.create_user(conn, email, password, "customer", customer_id=row["id"])
    except TaskforceError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"customer user {user_id}: {accounts.normalize_email(email)} ({row['name']})")
    if generate:
        typer.echo(f"password (shown only now): {password}")


@app.command("set-aside")
def set_aside() -> None:
    """What the background loops gave up on: test tasks the simulated worker cannot complete and
    callbacks the dispatcher cannot send (each was logged once, with the reason, when set aside)."""
    from taskforce.callbacks.dispatcher import set_aside_deliveries
    from taskforce.clock import format_ms
    from taskforce.tasks import simulator

    with _db(load_settings()).read() as conn:
        held = simulator.set_aside(conn)
        deliveries = set_aside_deliveries(conn)
    typer.echo(f"{len(held)} test task(s) the simulated worker set aside"
               + (" (they stay pending; the customer may cancel them):" if held else ""))
    for t in held:
        typer.echo(f"  task {t['id']}  customer {t['customer_id']}  {t['type']}  created {format_ms(t['created_at'])}")
    typer.echo(f"{len(deliveries)} callback delivery(ies) the dispatcher set aside"
               + (" (marked failed; the customer may redeliver):" if deliveries else ""))
    for d in deliveries:
        typer.echo(f"  delivery {d['id']}  task {d['task_id']}  customer {d['customer_id']}  {d['last_error']}")


DEMO_PASSWORD = "taskforce-demo"


@app.command()
def demo() -> None:
    """Create the demo customer, its keys and demo sign-ins, once; prints the keys that one time."""
    from sqlalchemy import select

    from taskforce import accounts, customers
    from taskforce.models import customers as customers_table

    with _db(load_settings()).write() as conn:
        if conn.execute(select(customers_table.c.id).where(customers_table.c.name == "demo")).first():
            typer.echo("demo account exists (keys were printed when it was made; "
                       "`taskforce keys create demo --live` makes another)")
            return
        customer_id = customers.create_customer(conn, "demo")
        live = customers.create_api_key(conn, customer_id, "live")
        test = customers.create_api_key(conn, customer_id, "test")
        accounts.create_user(conn, "customer@demo.test", DEMO_PASSWORD, "customer", customer_id=customer_id)
        accounts.create_user(conn, "worker@demo.test", DEMO_PASSWORD, "worker")
        accounts.create_user(conn, "operator@demo.test", DEMO_PASSWORD, "operator")
    typer.echo("Demo account created. These keys are shown only now:")
    typer.echo(f"  live API key: {live}")
    typer.echo(f"  test API key: {test}")
    typer.echo(f"Sign-ins (password {DEMO_PASSWORD}): customer@demo.test, worker@demo.test, operator@demo.test")


def _one_line(exc: BaseException) -> str | None:
    """What an operator is told of an error, on one line; None for a bug (a traceback helps)."""
    from alembic.util.exc import CommandError
    from pydantic import ValidationError
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from taskforce.errors import TaskforceError

    if isinstance(exc, TaskforceError):
        return exc.message
    if isinstance(exc, ValidationError):  # the settings, from TASKFORCE_* variables
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        return f"setting {('TASKFORCE_' + where.upper()) if where else ''} is invalid: {err.get('msg')}"
    if isinstance(exc, CommandError):  # alembic: e.g. a revision this version does not know
        return f"migration failed: {exc} (was the database migrated by a newer Taskforce?)" \
            if "Can't locate revision" in str(exc) else f"migration failed: {exc}"
    if isinstance(exc, ArgumentError):  # includes NoSuchModuleError
        return f"the database URL is not usable: {exc}"
    if isinstance(exc, DBAPIError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        missing = "no such table" in first or ("relation" in first and "does not exist" in first)
        hint = " (has `taskforce migrate` been run?)" if missing else ""
        return f"database error: {first}{hint}"
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else f"{exc.strerror or exc}"
    return None


#: Commands that keep running and log as they go; the others print only their result or error.
_LONG_RUNNING = frozenset({"serve", "dispatch"})


def _errors_in_one_line(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        logger = logging.getLogger("taskforce")
        level = logger.level
        if command.__name__ not in _LONG_RUNNING:
            # A warning the error then sums up ("could not connect; retrying once") would be a
            # second line of the same failure.
            logger.setLevel(logging.ERROR)
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            message = _one_line(exc)
            if message is None:
                raise
            typer.echo(f"error: {' '.join(message.split())}", err=True)
            raise typer.Exit(1) from None
        finally:
            logger.setLevel(level)
    return run


def _guard(cli: typer.Typer) -> None:
    """Every command (and every group's) answers an operator's mistake — an unknown customer, an
    email in use, a bad database URL, an unreadable file — with one line and exit status 1."""
    for info in cli.registered_commands:
        if info.callback is not None and not getattr(info.callback, "__wrapped__", None):
            info.callback = _errors_in_one_line(info.callback)
    for group in cli.registered_groups:
        if group.typer_instance is not None:
            _guard(group.typer_instance)


_guard(app)  # after every command is registered


def main() -> None:
    app()


if __name__ == "__main__":
    main()
