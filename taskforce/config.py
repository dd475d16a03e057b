"""Settings, built once (by the CLI or a test) and passed down; never read at import time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TASKFORCE_", extra="ignore")

    #: SQLAlchemy URL. SQLite by default (zero set-up); ``postgresql+psycopg://…`` for many processes.
    database_url: str = "sqlite:///var/taskforce.db"
    #: Connections each process keeps open, and how many more it may open under load. With
    #: PostgreSQL, every process (API worker, dispatcher) holds up to pool + overflow:
    #: ``taskforce serve --workers N`` checks N × that against the server's max_connections.
    database_pool_size: int = 5
    database_max_overflow: int = 10
    #: Signs session cookies and CSRF tokens. The CLI generates and stores one when unset.
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000

    #: Largest request body the API accepts (bytes) before answering 413.
    max_body_bytes: int = 1024 * 1024
    #: Requests a second each API key may make on average (a token bucket per key and process);
    #: over it the API answers 429 with Retry-After. 0 turns the limit off (the default).
    api_rate_limit_per_second: float = 0.0
    #: Requests a key may make at once before the average applies (0: the rate, rounded up).
    api_rate_limit_burst: int = 0

    #: Web app guards, per process: failed sign-ins per (client address, email) and per email,
    #: self sign-ups per client address, and "send a test callback" per customer.
    login_failures_per_minute: float = Field(default=10, gt=0)
    signups_per_hour: float = Field(default=10, gt=0)
    test_callbacks_per_minute: float = Field(default=20, gt=0)

    #: How long a worker holds a claimed task before it becomes claimable again (seconds).
    lease_seconds: int = 600
    #: The share of a worker's claims that are a gold task's turn (0.1: every tenth claim);
    #: 0 turns gold mixing off (quality/gold.py).
    gold_rate: float = Field(default=0.1, ge=0, le=1)
    #: Web sessions expire after this many seconds of inactivity.
    session_max_age: int = 8 * 3600
    #: Mark the session cookie ``Secure`` (sent over HTTPS only): set it when a TLS proxy
    #: fronts the app. Off by default so http://127.0.0.1:8000 works out of the box.
    session_cookie_secure: bool = False
    #: Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For and
    #: X-Forwarded-Proto ``serve`` believes. Empty (the default): no forwarded header is
    #: believed, from anyone, and the client address is the peer's own.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: Seconds a client may take to send a request's headers (from connecting, or from the
    #: previous response on a kept-alive connection), and its whole body; then it is closed.
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_timeout_seconds: float = Field(default=30.0, gt=0)

    #: Run the callback dispatcher (and the test-mode simulated worker) inside ``serve``.
    run_dispatcher: bool = True
    callback_timeout_seconds: float = 15.0
    callback_max_attempts: int = 20
    callback_concurrency: int = 64
    #: How often the dispatcher looks for due callbacks it was not woken for: retries coming due
    #: are timed exactly, and commits wake it (in-process, or by NOTIFY on PostgreSQL), so this
    #: is a fallback.
    callback_poll_seconds: float = Field(default=1.0, gt=0)
    #: Networks callbacks may be delivered to even though they are not public (CIDR list).
    callback_allowed_networks: list[str] = Field(default_factory=list)
    #: Seconds after creation that the simulated worker completes a test-mode task.
    test_mode_delay_seconds: float = 1.0
    #: Answer quality: how often worker skills are re-fitted (quality/refit.py), and how many
    #: days of answers the fit reads.
    quality_refit_seconds: float = Field(default=300.0, gt=0)
    quality_refit_window_days: float = Field(default=90.0, gt=0)
    #: Uploaded and imported files (``/v1/files``): the local directory that holds them, the
    #: largest file accepted (413 over it), how long an import may take, and how long the signed
    #: URL a worker's page gets for a ``scaledata://`` attachment stays valid.
    files_dir: str = "var/files"
    file_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    file_import_timeout_seconds: float = Field(default=30.0, gt=0)
    file_url_seconds: int = Field(default=3600, gt=0)
    #: Seconds the previous signing secret keeps signing after a rotation.
    signing_secret_grace_seconds: int = 24 * 3600

    #: SQLite's ``synchronous`` in WAL mode. NORMAL (the default) may lose the last transactions
    #: to a power loss or OS crash, never to a process crash; FULL loses none and costs more
    #: per commit (README, deployment; bench/README.md).
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    #: ``text`` (readable) or ``json`` (one object per line) for every log line.
    log_format: Literal["text", "json"] = "text"
    #: INFO logs every request and delivery; WARNING keeps only what needs attention.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: When set, ``GET /metrics`` answers only ``Authorization: Bearer <token>``.
    metrics_token: str = ""
    #: On SIGTERM, how long ``serve`` and ``dispatch`` wait for requests and callback
    #: deliveries in flight before they stop anyway.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
