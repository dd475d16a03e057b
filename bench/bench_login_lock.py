"""Do sign-ins stall API creates? (issue 13, item 11)

Argon2 takes tens of milliseconds by design. Run while SQLite's write lock is held, every sign-in
holds up every create for that long. This serves one tree's ``taskforce serve`` (SQLite, one
process, no dispatcher) and measures API creates a second from 4 kept-alive clients, alone and
then while 2 clients sign in as fast as they can, reporting creates/s and create p99 for each.

    .venv/bin/python bench/bench_login_lock.py                 # this tree
    .venv/bin/python bench/bench_login_lock.py --tree /tmp/old # another checkout (before the fix)
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import free_port, wait_for_port  # noqa: E402

CREATE = json.dumps({"callback_url": "http://127.0.0.1:9/cb", "instruction": "Big or small?",
                     "attachment_type": "text", "attachment": "T-Rex", "categories": ["big", "small"]})
SETUP = """
from taskforce import migrate, customers, accounts
from taskforce.db import Database
import os
url = os.environ["TASKFORCE_DATABASE_URL"]
migrate.upgrade(url)
db = Database(url)
with db.write() as conn:
    cid = customers.create_customer(conn, "bench")
    print(customers.create_api_key(conn, cid, "live"))
    accounts.create_user(conn, "worker@bench.test", "bench password", "worker")
"""
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _creates(port: int, key: str, stop: threading.Event, latencies: list[float]) -> None:
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while not stop.is_set():
        started = time.perf_counter()
        conn.request("POST", "/v1/task/categorize", CREATE,
                     {"Authorization": auth, "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        latencies.append(time.perf_counter() - started)


def _sign_ins(port: int, stop: threading.Event, count: list[int]) -> None:
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/login")
        page = conn.getresponse()
        cookie = page.getheader("set-cookie").split(";")[0]
        token = _CSRF.search(page.read().decode()).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "email": "worker@bench.test",
                                       "password": "bench password"})
        conn.request("POST", "/login", body, {"Cookie": cookie,
                                              "Content-Type": "application/x-www-form-urlencoded"})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 303, answer.status
        count.append(1)
        conn.close()


def _phase(port: int, key: str, seconds: float, sign_in_clients: int) -> dict[str, float]:
    stop = threading.Event()
    latencies: list[float] = []
    sign_ins: list[int] = []
    threads = [threading.Thread(target=_creates, args=(port, key, stop, latencies)) for _ in range(4)]
    threads += [threading.Thread(target=_sign_ins, args=(port, stop, sign_ins)) for _ in range(sign_in_clients)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    latencies.sort()
    return {"creates_per_s": len(latencies) / seconds, "create_p50_ms": 1000 * latencies[len(latencies) // 2],
            "create_p99_ms": 1000 * latencies[int(len(latencies) * 0.99)], "sign_ins_per_s": len(sign_ins) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", default=str(ROOT), help="the checkout whose taskforce is served")
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": args.tree, "TASKFORCE_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
               "TASKFORCE_SECRET_KEY": "bench", "TASKFORCE_LOGIN_FAILURES_PER_MINUTE": "100000"}
        key = subprocess.run([sys.executable, "-c", SETUP], env=env, cwd=tmp, check=True,
                             capture_output=True, text=True).stdout.split()[-1]
        port = free_port()
        server = subprocess.Popen([sys.executable, "-c", "from taskforce.cli import app; app()", "serve",
                                   "--port", str(port), "--no-dispatcher"], env=env, cwd=tmp,
                                  stdout=subprocess.DEVNULL)
        try:
            wait_for_port(port, server)
            _phase(port, key, 2, 0)  # warm-up
            alone = _phase(port, key, args.seconds, 0)
            with_sign_ins = _phase(port, key, args.seconds, 2)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(json.dumps({"tree": args.tree, "alone": alone, "with_sign_ins": with_sign_ins}, indent=1))


if __name__ == "__main__":
    main()
