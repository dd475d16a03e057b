"""A local callback receiver for the benchmarks and tests: answers 200 (after ``--delay``
seconds), and records each arrival — its webhook-id, the time from the task's completion (the
callback body's ``completed_at``) to arrival, and whether the same webhook-id was already being
received at that moment (a delivery sent twice at the same time).

    python -m bench.receiver --port 9000 [--delay 1.0]
    GET /stats → {"count", "unique", "concurrent_duplicates", "latencies_ms": [...]}
    POST /reset
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime

import orjson
from aiohttp import web


class Recorder:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.seen: set[str] = set()
        self.in_flight: set[str] = set()
        self.concurrent_duplicates = 0
        self.latencies: list[float] = []

    async def receive(self, request: web.Request) -> web.Response:
        arrived = time.time() * 1000
        body = await request.read()
        webhook_id = request.headers.get("webhook-id", "")
        self.count += 1
        self.seen.add(webhook_id)
        if webhook_id in self.in_flight:
            self.concurrent_duplicates += 1
        self.in_flight.add(webhook_id)
        try:
            completed = orjson.loads(body).get("task", {}).get("completed_at")
            if completed:
                self.latencies.append(arrived - datetime.fromisoformat(completed).timestamp() * 1000)
        except (orjson.JSONDecodeError, ValueError, AttributeError):
            pass
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight.discard(webhook_id)
        return web.Response(text="ok")

    async def stats(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps({
            "count": self.count, "unique": len(self.seen),
            "concurrent_duplicates": self.concurrent_duplicates, "latencies_ms": self.latencies,
        }), content_type="application/json")

    async def reset_view(self, request: web.Request) -> web.Response:
        delay = request.query.get("delay")
        if delay is not None:
            self.delay = float(delay)
        self.reset()
        return web.Response(text="ok")


def make_app(delay: float = 0.0) -> web.Application:
    recorder = Recorder(delay)
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/cb", recorder.receive)
    app.router.add_get("/stats", recorder.stats)
    app.router.add_post("/reset", recorder.reset_view)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(args.delay), host="127.0.0.1", port=args.port, print=None,
                access_log=None, backlog=1024)
