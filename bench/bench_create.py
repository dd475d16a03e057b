"""Benchmark 1: create throughput. wrk POSTs categorize tasks for 10 s at 64 connections, JSON and
form-encoded, against Taskforce (`taskforce serve`, one process) and against the baseline (a
minimal Starlette app that parses the same body and inserts one row into the same kind of
database). Each side gets a fresh database. Target: Taskforce ≥ 50% of the baseline's req/s."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (BenchDatabase, make_customer, run_wrk, start_baseline,  # noqa: E402
                          start_taskforce)

SCRIPT = Path(__file__).parent / "wrk" / "create.lua"
PATH = "/v1/task/categorize"


def _count_tasks(bdb: BenchDatabase) -> int:
    from sqlalchemy import func, select

    from taskforce.models import tasks

    db = bdb.database(1)
    with db.read() as conn:
        n = conn.execute(select(func.count()).select_from(tasks)).scalar_one()
    db.dispose()
    return n


def measure(app: str, backend: str, seconds: int) -> dict:
    bdb = BenchDatabase(backend)
    db = bdb.database(1)
    account = make_customer(db, "bench")
    db.dispose()
    if app == "baseline":
        import os

        os.environ["BASELINE_CUSTOMER_ID"] = str(account.customer_id)
        server = start_baseline(bdb.url)
    else:
        server = start_taskforce(bdb.url)
    out: dict = {"app": app, "backend": backend}
    try:
        env = {"AUTH": account.auth_header}
        run_wrk(server.url + PATH, SCRIPT, seconds=2, env={**env, "BODY_KIND": "json"})  # warm-up
        for kind in ("json", "form"):
            result = run_wrk(server.url + PATH, SCRIPT, seconds=seconds, env={**env, "BODY_KIND": kind})
            out[kind] = result.__dict__
        if server.rss:
            out["peak_rss_mb"] = round(server.rss.peak_mb(), 1)
    finally:
        server.stop()
    rows = _count_tasks(bdb)
    answered = sum(out[k]["requests"] - out[k]["errors"] for k in ("json", "form"))
    out["rows_inserted"] = rows
    out["rows_match"] = rows >= answered  # every 2xx answer left its row (warm-up adds some)
    bdb.drop()
    return out


def run(backends: list[str], seconds: int = 10) -> list[dict]:
    results = []
    for backend in backends:
        base = measure("baseline", backend, seconds)
        tf = measure("taskforce", backend, seconds)
        for kind in ("json", "form"):
            b, t = base[kind], tf[kind]
            ratio = t["requests_per_s"] / b["requests_per_s"]
            line = {
                "bench": "create", "backend": backend, "body": kind,
                "taskforce_rps": round(t["requests_per_s"]), "baseline_rps": round(b["requests_per_s"]),
                "ratio": round(ratio, 2), "target": ">= 0.50", "ok": ratio >= 0.5 and t["errors"] == 0,
                "taskforce_p50_ms": t["p50_ms"], "taskforce_p99_ms": t["p99_ms"],
                "baseline_p99_ms": b["p99_ms"], "errors": t["errors"],
                "rows_match": tf["rows_match"], "peak_rss_mb": tf.get("peak_rss_mb"),
            }
            print(f"create {backend:8} {kind:4}: taskforce {line['taskforce_rps']:>6} req/s "
                  f"(p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms, {t['errors']} errors) | "
                  f"baseline {line['baseline_rps']:>6} req/s (p99 {b['p99_ms']:.1f} ms) | "
                  f"ratio {ratio:.2f} (target >= 0.50) {'OK' if line['ok'] else 'MISS'}", flush=True)
            results.append(line)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(run(args.backend or ["sqlite", "postgres"], args.seconds), indent=1))
