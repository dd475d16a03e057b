"""Wake-ups across processes and hosts, on PostgreSQL.

``signals.py`` wakes the loops of one process. On PostgreSQL the process that commits work may not
be the one that does it: a worker's answer is committed by a web process, its callback sent by a
``taskforce dispatch`` on another host, which would otherwise learn of it only at its next poll. A
NOTIFY issued inside the committing transaction reaches every LISTENing process when, and only
if, that transaction commits; each relays it to its own ``Signals``. SQLite serves one host, where
the in-process signals and the poll are enough, so there this is a no-op.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from taskforce import signals as topics
from taskforce.db import publish_after_commit
from taskforce.signals import Signals

log = logging.getLogger(__name__)

#: The topics that cross processes: each owes work to a background loop.
TOPICS = (topics.TASK_COMPLETED, topics.TEST_TASK_CREATED)
_CHANNELS = {topic: f"taskforce_{topic}" for topic in TOPICS}
_TOPIC_OF = {channel: topic for topic, channel in _CHANNELS.items()}
_NOTIFY = {topic: text(f"NOTIFY {channel}") for topic, channel in _CHANNELS.items()}


def wake(conn: Connection, topic: str) -> None:
    """Wake ``topic``'s loops once this transaction commits, and only then: this process's
    directly (an after-commit hook on the database's ``Signals``), every other process's through
    NOTIFY on PostgreSQL. Services call this, so no caller has to remember to publish."""
    publish_after_commit(conn, topic)
    notify(conn, topic)


def notify(conn: Connection, topic: str) -> None:
    """Wake ``topic``'s loops in every process once this transaction commits (PostgreSQL folds
    repeats within one transaction into one)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY[topic])


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://…`` as psycopg itself takes it."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """LISTENs on a connection of its own, in a daemon thread, and publishes every notification
    to ``signals``. A lost connection is re-opened with backoff; on every (re)connect each topic
    is published once, since work may have been committed while nobody listened."""

    def __init__(self, url: str, signals: Signals, *, check_seconds: float = 0.25) -> None:
        self.url = libpq_url(url)
        self.signals = signals
        self.check_seconds = check_seconds
        #: Set while LISTENing; tests wait on it.
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection | None = None

    def start(self) -> Listener:
        self._thread = threading.Thread(target=self._run, name="pg-wakeups", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def backend_pid(self) -> int | None:
        conn = self._conn
        return conn.info.backend_pid if conn is not None and self.listening.is_set() else None

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                self._listen()
                delay = 0.5
            except Exception as exc:  # noqa: BLE001 - a dead listener would leave only the poll
                self.listening.clear()
                log.warning("wake-up listener: %s; reconnecting in %.1f s", exc, delay,
                            exc_info=not isinstance(exc, psycopg.Error))
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _listen(self) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            self._conn = conn
            try:
                for channel in _CHANNELS.values():
                    conn.execute(f"LISTEN {channel}")
                self.listening.set()
                for topic in TOPICS:
                    self.signals.publish(topic)
                while not self._stop.is_set():
                    # The generator ends after check_seconds, so a stop is seen that quickly.
                    for note in conn.notifies(timeout=self.check_seconds):
                        topic = _TOPIC_OF.get(note.channel)
                        if topic is not None:
                            self.signals.publish(topic)
            finally:
                self.listening.clear()
                self._conn = None
