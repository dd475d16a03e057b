"""Clients that send nothing, or trickle their headers or body, are closed after the header and
body deadlines (``serve``'s uvicorn protocol), while a normal client on the same server is
served as usual. Real uvicorn on a loopback port, real sockets."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from taskforce.app import create_app
from taskforce.config import Settings
from taskforce.db import Database
from taskforce.http_server import DeadlineHttpToolsProtocol, uvicorn_options

from tests.conftest import free_port

HEADER_TIMEOUT, BODY_TIMEOUT = 1.0, 2.0
EACH = 15  # connections of each kind


class QuickDeadlines(DeadlineHttpToolsProtocol):
    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT


@pytest.fixture
def live(sqlite_template: Path, tmp_path: Path):
    path = tmp_path / "taskforce.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(database_url=f"sqlite:///{path}", secret_key="test", run_dispatcher=False)
    db = Database(settings.database_url)
    port = free_port()
    options = {**uvicorn_options(settings), "http": QuickDeadlines}
    server = uvicorn.Server(uvicorn.Config(create_app(settings, db), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)
    return sock


def _closed(sock: socket.socket) -> bool:
    """The server closed it (EOF or reset); a closed socket stays closed."""
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.send(data)
    except OSError:
        pass  # already closed by the server: that is what is measured


def test_silent_and_trickling_clients_are_closed_after_the_deadlines(live):
    port = live
    silent = [_connect(port) for _ in range(EACH)]
    slow_headers = [_connect(port) for _ in range(EACH)]
    slow_body = [_connect(port) for _ in range(EACH)]
    header = b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    for sock in slow_body:
        _send(sock, header + b"Content-Length: 1000\r\n\r\n")
    started = time.monotonic()
    closed_at: dict[int, float] = {}
    step = 0
    # Everyone keeps trickling 3 bytes a second until closed, for at most 3 × the body deadline.
    while time.monotonic() - started < 3 * BODY_TIMEOUT and len(closed_at) < 3 * EACH:
        for i, sock in enumerate(silent + slow_headers + slow_body):
            if i in closed_at:
                continue
            if _closed(sock):
                closed_at[i] = time.monotonic() - started
            elif sock in slow_headers:
                _send(sock, header[step * 3:(step + 1) * 3] or b"X-a: b\r\n")
            elif sock in slow_body:
                _send(sock, b"a=b")
        step += 1
        # A well-behaved client is served meanwhile.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as ok:
            ok.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert ok.recv(64).startswith(b"HTTP/1.1 200")
        time.sleep(1.0)
    for sock in silent + slow_headers + slow_body:
        sock.close()
    assert len(closed_at) == 3 * EACH, f"{3 * EACH - len(closed_at)} connections still open"
    silent_t = [closed_at[i] for i in range(EACH)]
    headers_t = [closed_at[i] for i in range(EACH, 2 * EACH)]
    body_t = [closed_at[i] for i in range(2 * EACH, 3 * EACH)]
    # Each within its deadline plus the polling step and a margin for a loaded machine.
    assert max(silent_t) < HEADER_TIMEOUT + 2.5 and max(headers_t) < HEADER_TIMEOUT + 2.5
    assert min(body_t) >= BODY_TIMEOUT - 0.5 and max(body_t) < BODY_TIMEOUT + 2.5


def test_a_kept_alive_connection_gets_a_new_header_deadline(live):
    """After a response, the next request's headers must come within the deadline too."""
    with socket.create_connection(("127.0.0.1", live), timeout=5) as sock:
        sock.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /lo")  # the next request begins, and stalls
        started = time.monotonic()
        sock.settimeout(HEADER_TIMEOUT + 5)
        assert sock.recv(4096) == b""  # closed by the server
        assert time.monotonic() - started < HEADER_TIMEOUT + 2


def test_serve_believes_forwarded_headers_from_no_one_unless_told():
    default = uvicorn_options(Settings())
    assert default["proxy_headers"] is False
    told = uvicorn_options(Settings(trusted_proxies=["10.0.0.5", "10.1.0.0/16"]))
    assert told["proxy_headers"] is True and told["forwarded_allow_ips"] == "10.0.0.5,10.1.0.0/16"
    assert default["http"] is DeadlineHttpToolsProtocol
