"""Benchmark 2: list. 1,000,000 tasks across 10 customers; one client walks one customer's
100,000 tasks with GET /v1/tasks?limit=100 and next_token, page after page to the last (1,000
pages), on one kept-alive connection. Target: p99 < 20 ms per page. Baseline: the minimal app
running the same keyset SELECT with no authentication and no total."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (BenchDatabase, keep_alive_get, make_customer, percentile,  # noqa: E402
                          start_baseline, start_taskforce)
from bench.seed import fill_tasks  # noqa: E402

TOTAL = 1_000_000
CUSTOMERS = 10


def walk(port: int, headers: dict[str, str], *, expect_total: int | None) -> dict:
    get = keep_alive_get(port)
    latencies: list[float] = []
    seen: set[str] = set()
    token = None
    totals_ok = True
    while True:
        path = "/v1/tasks?limit=100" + (f"&next_token={quote(token)}" if token else "")
        started = time.perf_counter()
        status, body = get(path, headers)
        page = orjson.loads(body)
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200, (status, body[:200])
        seen.update(doc.get("task_id") or doc.get("id") for doc in page["docs"])
        if expect_total is not None and page.get("total") != expect_total:
            totals_ok = False
        token = page.get("next_token")
        if not token:
            break
    return {"pages": len(latencies), "tasks": len(seen), "totals_ok": totals_ok,
            "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2)}


def run(backends: list[str], total: int = TOTAL) -> list[dict]:
    results = []
    for backend in backends:
        bdb = BenchDatabase(backend)
        db = bdb.database(1)
        accounts = [make_customer(db, f"customer-{i}") for i in range(CUSTOMERS)]
        seconds = fill_tasks(db, total=total, customer_ids=[a.customer_id for a in accounts])
        db.dispose()
        bdb.vacuum()
        print(f"list {backend:8}: {total:,} tasks written in {seconds:.0f} s", flush=True)
        me = accounts[3]
        per_customer = total // CUSTOMERS
        os.environ["BASELINE_CUSTOMER_ID"] = str(me.customer_id)
        tf, base = start_taskforce(bdb.url), start_baseline(bdb.url)
        try:
            headers = {"Authorization": me.auth_header}
            t = walk(tf.port, headers, expect_total=per_customer)
            b = walk(base.port, {}, expect_total=None)
            peak = round(tf.rss.peak_mb(), 1)
        finally:
            tf.stop()
            base.stop()
            bdb.drop()
        ok = t["p99_ms"] < 20 and t["tasks"] == per_customer and t["totals_ok"]
        line = {"bench": "list", "backend": backend, "pages": t["pages"], "tasks_seen": t["tasks"],
                "total_correct": t["totals_ok"], "taskforce_p50_ms": t["p50_ms"],
                "taskforce_p99_ms": t["p99_ms"], "taskforce_max_ms": t["max_ms"],
                "baseline_p50_ms": b["p50_ms"], "baseline_p99_ms": b["p99_ms"],
                "ratio_p99": round(t["p99_ms"] / b["p99_ms"], 2), "target": "p99 < 20 ms",
                "ok": ok, "peak_rss_mb": peak}
        print(f"list {backend:8}: {t['pages']} pages, {t['tasks']:,} tasks, total correct: "
              f"{t['totals_ok']} | taskforce p50 {t['p50_ms']} ms p99 {t['p99_ms']} ms | "
              f"baseline p50 {b['p50_ms']} ms p99 {b['p99_ms']} ms | ratio {line['ratio_p99']} "
              f"(target p99 < 20 ms) {'OK' if ok else 'MISS'}", flush=True)
        results.append(line)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--total", type=int, default=TOTAL)
    args = parser.parse_args()
    print(json.dumps(run(args.backend or ["sqlite", "postgres"], args.total), indent=1))
