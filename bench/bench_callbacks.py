"""Benchmark 4: callbacks, delivered by the real dispatcher to a local receiver (bench/receiver.py).

A. Throughput: one `taskforce dispatch` process, idle, then 20,000 completions' outbox rows are
   committed at once; time until the receiver has them all. Baseline: one process POSTing the
   same bodies to the same receiver with a pooled aiohttp session, 64 in flight, no database.
   Target: ≥ 1,000 deliveries/s on SQLite. Checks: each delivered once, none twice at a time.
B. Latency when idle: `taskforce serve` (dispatcher in-process), test-mode tasks created over the
   API one every 25 ms; the simulated worker completes each, and the receiver measures the time
   from the task's completed_at to the callback's arrival. Target p99 < 500 ms.
C. Slow receiver (answers after 1 s): 1,000 deliveries; with 64 in flight the ceiling is 64/s,
   and throughput must stay near it rather than collapse.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (ROOT, VENV_BIN, BenchDatabase, RssSampler, _env, free_port,  # noqa: E402
                          make_customer, percentile, start_taskforce, wait_for_port)
from bench.seed import fill_tasks  # noqa: E402

CONCURRENCY = 64


class Receiver:
    def __init__(self, delay: float = 0.0) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.receiver", "--port", str(self.port),
                                      "--delay", str(delay)], cwd=ROOT)
        wait_for_port(self.port, self.proc)
        self.url = f"http://127.0.0.1:{self.port}/cb"

    def _call(self, method: str, path: str) -> dict:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path)
        data = conn.getresponse().read()
        conn.close()
        return orjson.loads(data) if method == "GET" else {}

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def reset(self, delay: float = 0.0) -> None:
        self._call("POST", f"/reset?delay={delay}")

    def wait_for(self, count: int, timeout: float) -> tuple[dict, float]:
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["count"] >= count or time.monotonic() > deadline:
                return stats, time.time()
            time.sleep(0.02)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _owe(db, receiver_url: str, customer_id: int, total: int) -> float:
    """Write ``total`` completed tasks, then commit their outbox rows at once; returns when."""
    from sqlalchemy import insert, select

    from taskforce.callbacks import outbox
    from taskforce.models import deliveries, tasks
    from taskforce.tasks.representation import TASK_COLUMNS

    fill_tasks(db, total=total, customer_ids=[customer_id], status="completed")
    with db.read() as conn:
        rows = [dict(zip(TASK_COLUMNS, r)) | {"customer_id": customer_id}
                for r in conn.execute(select(*[tasks.c[c] for c in TASK_COLUMNS])
                                      .where(tasks.c.status == "completed",
                                             tasks.c.callback_succeeded.is_(None)))]
    rows = [r for r in rows if r["id"] not in _owe.done]
    _owe.done.update(r["id"] for r in rows)
    values = [{"task_id": r["id"], "customer_id": customer_id, "webhook_id": outbox.new_webhook_id(),
               "url": receiver_url, "body": outbox.callback_body(r).decode(), "status": "pending",
               "attempts": 0, "next_attempt_at": 0, "created_at": 0} for r in rows]
    with db.write() as conn:
        conn.execute(insert(deliveries), values)
    return time.time()


_owe.done = set()  # type: ignore[attr-defined]


def _delivered(db) -> int:
    from sqlalchemy import func, select

    from taskforce.models import deliveries

    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(deliveries)
                            .where(deliveries.c.status == "delivered")).scalar_one()


async def _baseline_send(url: str, bodies: list[bytes]) -> float:
    import aiohttp

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = list(reversed(bodies))

        async def sender() -> None:
            while queue:
                body = queue.pop()
                async with session.post(url, data=body, headers={"content-type": "application/json"}) as r:
                    await r.read()

        await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


def start_dispatcher(url: str) -> tuple[subprocess.Popen, RssSampler]:
    proc = subprocess.Popen([str(VENV_BIN / "taskforce"), "dispatch"], env=_env(url), cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "dispatcher running"
    time.sleep(0.5)
    return proc, RssSampler(proc.pid)


def throughput(backend: str, total: int, delay: float) -> dict:
    _owe.done.clear()
    bdb = BenchDatabase(backend)
    db = bdb.database(2)
    account = make_customer(db, "callbacks")
    receiver = Receiver(delay)
    dispatcher, rss = start_dispatcher(bdb.url)
    try:
        committed = _owe(db, receiver.url, account.customer_id, total)
        stats, finished = receiver.wait_for(total, timeout=max(120, total / 20))
        seconds = finished - committed
        time.sleep(1.5)  # the last results reach the database in the dispatcher's next batch
        delivered = _delivered(db)
        out = {"deliveries_per_s": stats["count"] / seconds, "seconds": seconds,
               "received": stats["count"], "unique": stats["unique"],
               "concurrent_duplicates": stats["concurrent_duplicates"], "delivered_in_db": delivered,
               "peak_rss_mb": round(rss.peak_mb(), 1)}
        if delay == 0:
            from sqlalchemy import select

            from taskforce.models import deliveries

            with db.read() as conn:
                bodies = [b.encode() for b in conn.execute(select(deliveries.c.body)).scalars()]
            receiver.reset()
            base_seconds = asyncio.run(_baseline_send(receiver.url, bodies))
            out["baseline_per_s"] = len(bodies) / base_seconds
    finally:
        rss.stop()
        dispatcher.terminate()
        dispatcher.wait(timeout=15)
        receiver.stop()
        db.dispose()
        bdb.drop()
    return out


def idle_latency(backend: str, count: int = 200, every: float = 0.025) -> dict:
    import http.client

    bdb = BenchDatabase(backend)
    db = bdb.database(1)
    account = make_customer(db, "latency")
    db.dispose()
    receiver = Receiver(0.0)
    server = start_taskforce(bdb.url, dispatcher=True,
                             extra_env={"TASKFORCE_TEST_MODE_DELAY_SECONDS": "0.05"})
    import base64

    auth = "Basic " + base64.b64encode(f"{account.test_key}:".encode()).decode()
    body = orjson.dumps({"callback_url": receiver.url, "instruction": "Public or private?",
                         "attachment_type": "website", "attachment": "http://www.google.com/",
                         "categories": ["public", "private"]})
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        time.sleep(1.0)
        for _ in range(count):
            conn.request("POST", "/v1/task/categorize", body=body,
                         headers={"Authorization": auth, "Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            assert response.status == 200, response.status
            time.sleep(every)
        stats, _ = receiver.wait_for(count, timeout=60)
        peak = round(server.rss.peak_mb(), 1)
    finally:
        server.stop()
        receiver.stop()
        bdb.drop()
    lat = stats["latencies_ms"]
    return {"received": stats["count"], "p50_ms": round(percentile(lat, 50), 1),
            "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat), 1) if lat else None,
            "peak_rss_mb": peak}


def run(backends: list[str], total: int = 20_000, slow_total: int = 1_000) -> list[dict]:
    results = []
    for backend in backends:
        fast = throughput(backend, total, 0.0)
        ok = (fast["received"] == total and fast["unique"] == total and fast["concurrent_duplicates"] == 0
              and fast["delivered_in_db"] == total)
        target = 1000 if backend == "sqlite" else None
        line = {"bench": "callbacks", "backend": backend, "deliveries": total,
                "deliveries_per_s": round(fast["deliveries_per_s"]),
                "baseline_per_s": round(fast["baseline_per_s"]),
                "ratio": round(fast["deliveries_per_s"] / fast["baseline_per_s"], 2),
                "target": ">= 1000/s" if target else "(none)", "all_delivered_once": ok,
                "concurrent_duplicates": fast["concurrent_duplicates"],
                "ok": ok and (target is None or fast["deliveries_per_s"] >= target),
                "peak_rss_mb": fast["peak_rss_mb"]}
        print(f"callbacks {backend:8}: {total:,} deliveries by one dispatcher: "
              f"{line['deliveries_per_s']}/s (all delivered once: {ok}, "
              f"{fast['concurrent_duplicates']} sent twice at a time) | baseline sender "
              f"{line['baseline_per_s']}/s | ratio {line['ratio']} (target {line['target']}) "
              f"{'OK' if line['ok'] else 'MISS'}", flush=True)
        results.append(line)

        idle = idle_latency(backend)
        line = {"bench": "callbacks-latency", "backend": backend, **idle, "target": "p99 < 500 ms",
                "ok": idle["received"] >= 200 and idle["p99_ms"] < 500}
        print(f"callbacks {backend:8}: idle, completion -> arrival p50 {idle['p50_ms']} ms, "
              f"p99 {idle['p99_ms']} ms over {idle['received']} callbacks (target p99 < 500 ms) "
              f"{'OK' if line['ok'] else 'MISS'}", flush=True)
        results.append(line)

        slow = throughput(backend, slow_total, 1.0)
        ceiling = CONCURRENCY / 1.0
        line = {"bench": "callbacks-slow", "backend": backend, "deliveries": slow_total,
                "deliveries_per_s": round(slow["deliveries_per_s"], 1), "ceiling_per_s": ceiling,
                "ratio": round(slow["deliveries_per_s"] / ceiling, 2), "target": ">= 0.8 of ceiling",
                "concurrent_duplicates": slow["concurrent_duplicates"],
                "ok": slow["deliveries_per_s"] >= 0.8 * ceiling and slow["concurrent_duplicates"] == 0}
        print(f"callbacks {backend:8}: receiver answering in 1 s: {line['deliveries_per_s']}/s against a "
              f"ceiling of {ceiling:.0f}/s ({CONCURRENCY} in flight) | ratio {line['ratio']} "
              f"{'OK' if line['ok'] else 'MISS'}", flush=True)
        results.append(line)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--total", type=int, default=20_000)
    parser.add_argument("--slow-total", type=int, default=1_000)
    args = parser.parse_args()
    print(json.dumps(run(args.backend or ["sqlite", "postgres"], args.total, args.slow_total), indent=1))
