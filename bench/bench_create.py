"""Benchmark 1: create throughput. wrk POSTs categorize tasks for 10 s at 64 connections, JSON and
form-encoded, against Taskforce (`taskforce serve`, one process) and against the baseline (a
minimal Starlette app that parses the same body and inserts one row into the same kind of
database). Each side gets a fresh database; the two run alternately in rounds. Target: Taskforce ≥ 50% of the baseline's req/s."""

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


ROUNDS = 2  # each side runs ROUNDS × (seconds / ROUNDS), alternating, so load drifts hit both


def _merge(rounds: list) -> dict:
    """Rounds of one side into one figure: total requests over total time, worst p99."""
    seconds = sum(r.requests / r.requests_per_s for r in rounds if r.requests_per_s)
    return {"requests_per_s": sum(r.requests for r in rounds) / seconds if seconds else 0.0,
            "p50_ms": sorted(r.p50_ms for r in rounds)[len(rounds) // 2],
            "p99_ms": max(r.p99_ms for r in rounds), "requests": sum(r.requests for r in rounds),
            "errors": sum(r.errors for r in rounds)}


def run_backend(backend: str, seconds: int) -> list[dict]:
    import os

    sides = {}
    for app in ("baseline", "taskforce"):
        bdb = BenchDatabase(backend)
        db = bdb.database(1)
        account = make_customer(db, "bench")
        db.dispose()
        if app == "baseline":
            os.environ["BASELINE_CUSTOMER_ID"] = str(account.customer_id)
            server = start_baseline(bdb.url)
        else:
            server = start_taskforce(bdb.url)
        sides[app] = (bdb, server, {"AUTH": account.auth_header})
    results = []
    try:
        for app, (_, server, env) in sides.items():  # warm-up: imports, pools, caches
            run_wrk(server.url + PATH, SCRIPT, seconds=2, env={**env, "BODY_KIND": "json"})
        for kind in ("json", "form"):
            rounds: dict[str, list] = {"baseline": [], "taskforce": []}
            for _ in range(ROUNDS):
                for app, (_, server, env) in sides.items():
                    rounds[app].append(run_wrk(server.url + PATH, SCRIPT, seconds=max(1, seconds // ROUNDS),
                                               env={**env, "BODY_KIND": kind}))
            b, t = _merge(rounds["baseline"]), _merge(rounds["taskforce"])
            ratio = t["requests_per_s"] / b["requests_per_s"]
            line = {
                "bench": "create", "backend": backend, "body": kind,
                "taskforce_rps": round(t["requests_per_s"]), "baseline_rps": round(b["requests_per_s"]),
                "ratio": round(ratio, 2), "target": ">= 0.50", "ok": ratio >= 0.5 and t["errors"] == 0,
                "taskforce_p50_ms": t["p50_ms"], "taskforce_p99_ms": t["p99_ms"],
                "baseline_p99_ms": b["p99_ms"], "errors": t["errors"],
            }
            print(f"create {backend:8} {kind:4}: taskforce {line['taskforce_rps']:>6} req/s "
                  f"(p50 {t['p50_ms']:.1f} ms, p99 {t['p99_ms']:.1f} ms, {t['errors']} errors) | "
                  f"baseline {line['baseline_rps']:>6} req/s (p99 {b['p99_ms']:.1f} ms) | "
                  f"ratio {ratio:.2f} (target >= 0.50) {'OK' if line['ok'] else 'MISS'}", flush=True)
            results.append(line)
        peak = round(sides["taskforce"][1].rss.peak_mb(), 1)
    finally:
        for bdb, server, _ in sides.values():
            server.stop()
    rows = _count_tasks(sides["taskforce"][0])
    for line in results:
        line["peak_rss_mb"] = peak
        line["taskforce_rows_inserted"] = rows  # ≥ the 2xx answers (the warm-up adds some)
    for bdb, _, _ in sides.values():
        bdb.drop()
    return results


def run(backends: list[str], seconds: int = 10) -> list[dict]:
    results = []
    for backend in backends:
        results.extend(run_backend(backend, seconds))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(run(args.backend or ["sqlite", "postgres"], args.seconds), indent=1))
