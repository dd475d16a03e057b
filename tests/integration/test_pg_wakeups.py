"""Wake-ups across processes on PostgreSQL (LISTEN/NOTIFY): a commit in one process wakes the
loops of another at once, a rolled-back one wakes nobody, and a lost listener connection comes
back. SQLite has one host and no NOTIFY: there the in-process signals and the poll do this."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import create_engine, text

from taskforce import pg_wakeups
from taskforce.signals import TASK_COMPLETED, TEST_TASK_CREATED, Signals

from tests.integration.test_callback_helpers import STARTUP_SECONDS, Receiver, completed_live_task, dispatch_process

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


class Heard:
    def __init__(self, signals: Signals) -> None:
        self.topics: list[str] = []
        self._changed = threading.Condition()
        for topic in pg_wakeups.TOPICS:
            signals.subscribe(topic, lambda topic=topic: self._add(topic))

    def _add(self, topic: str) -> None:
        with self._changed:
            self.topics.append(topic)
            self._changed.notify_all()

    def wait(self, topic: str, timeout: float = 30.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: topic in self.topics, timeout)

    def clear(self) -> None:
        with self._changed:
            self.topics.clear()


@pytest.fixture
def listener(db):
    signals = Signals()
    heard = Heard(signals)
    running = pg_wakeups.Listener(db.url, signals, check_seconds=0.2).start()
    assert running.listening.wait(10), "the listener never started listening"
    assert heard.wait(TASK_COMPLETED) and heard.wait(TEST_TASK_CREATED)  # the catch-up on connect
    heard.clear()
    yield running, heard
    running.stop()


def test_a_commit_wakes_the_listener_and_a_rollback_does_not(db, factory, listener):
    _, heard = listener
    with pytest.raises(ZeroDivisionError), db.write() as conn:
        pg_wakeups.notify(conn, TASK_COMPLETED)
        1 / 0  # the transaction rolls back
    assert not heard.wait(TASK_COMPLETED, timeout=0.5)
    customer = factory.customer()
    factory.task(customer, is_test=True)  # a test-mode task owes the simulated worker its answer
    assert heard.wait(TEST_TASK_CREATED)
    assert TASK_COMPLETED not in heard.topics
    with Receiver() as receiver:
        completed_live_task(db, factory, customer, receiver.url)  # a completion owes a callback
    assert heard.wait(TASK_COMPLETED)


def test_a_lost_listener_connection_comes_back_and_hears_again(db, factory, listener):
    running, heard = listener
    pid = running.backend_pid()
    assert pid is not None
    admin = create_engine(db.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()
    deadline = time.monotonic() + 30
    while (running.backend_pid() in (None, pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running.backend_pid() not in (None, pid), "the listener did not reconnect"
    heard.wait(TASK_COMPLETED)  # the catch-up publish after reconnecting
    heard.clear()
    factory.task(factory.customer(), is_test=True)
    assert heard.wait(TEST_TASK_CREATED)


def test_a_dispatcher_in_another_process_sends_at_once_not_at_its_poll(db, factory, tmp_path):
    """``taskforce dispatch`` polling every 60 s still sends a callback committed by this process
    within a second or two: the commit's NOTIFY wakes it."""
    env = {"TASKFORCE_DATABASE_URL": db.url, "TASKFORCE_SECRET_KEY": "t",
           "TASKFORCE_CALLBACK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
           "TASKFORCE_CALLBACK_POLL_SECONDS": "60"}
    admin = create_engine(db.url, isolation_level="AUTOCOMMIT")
    customer = factory.customer()
    with Receiver() as receiver, dispatch_process(env, tmp_path):
        deadline = time.monotonic() + STARTUP_SECONDS
        with admin.connect() as conn:
            while time.monotonic() < deadline:
                listening = conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND query LIKE 'LISTEN taskforce_%'")).scalar_one()
                if listening:
                    break
                time.sleep(0.05)
        assert listening, "the dispatcher never started listening"
        time.sleep(0.5)  # past its catch-up round: it is now waiting on its 60 s poll
        started = time.monotonic()
        task = completed_live_task(db, factory, customer, receiver.url)
        (got,) = receiver.wait_for(1, timeout=45)
        latency = got.at - started
    admin.dispose()
    assert got.json["task_id"] == task["id"]
    # Half the 60 s poll: only the NOTIFY gets it there sooner (a loaded CI machine has taken
    # seconds for what takes milliseconds here, so the bound is no latency measurement).
    assert latency < 30, f"the callback took {latency:.2f} s: the dispatcher waited for its poll"
