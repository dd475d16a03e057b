"""Run every benchmark on SQLite and on PostgreSQL, print each figure with its baseline and
target, and write bench/results/latest.json. `make bench` runs this (a few minutes).

    .venv/bin/python bench/run_all.py [--backend sqlite] [--only create,list,queue,callbacks] [--quick]

--quick shrinks every benchmark (for checking the scripts, not for figures).
Needs: wrk (installed from Debian when missing), PostgreSQL on 127.0.0.1:5432 (user postgres;
TASKFORCE_BENCH_PG_URL overrides) — without it the PostgreSQL half is skipped and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bench_callbacks, bench_create, bench_list, bench_queue  # noqa: E402
from bench.common import ensure_wrk, pg_available  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pg = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atc", "show server_version"],
                        capture_output=True, text=True).stdout.strip() or "n/a"
    import sqlite3

    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gb": round(mem_gb, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, "postgresql": pg,
            "kernel": platform.release(), "load_average_at_start": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--only", default="create,list,queue,callbacks")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--queue-tasks", type=int, help="tasks in the queue benchmark (default 20,000)")
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgres"]
    if "postgres" in backends and (reason := pg_available()):
        print(f"PostgreSQL benchmarks skipped: not reachable ({reason})")
        backends = [b for b in backends if b != "postgres"]
    ensure_wrk()
    only = set(args.only.split(","))
    info = machine()
    print(f"machine: {info['cpus']} × {info['cpu']}, {info['memory_gb']} GB, Python {info['python']}, "
          f"SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}, load {info['load_average_at_start']}",
          flush=True)
    started = time.time()
    results: list[dict] = []
    if "create" in only:
        results += bench_create.run(backends, 4 if args.quick else 10)
    if "list" in only:
        results += bench_list.run(backends, 50_000 if args.quick else bench_list.TOTAL)
    if "queue" in only:
        results += bench_queue.run(backends, args.queue_tasks or (2_000 if args.quick else bench_queue.TASKS))
    if "callbacks" in only:
        results += bench_callbacks.run(backends, 2_000 if args.quick else 20_000, 200 if args.quick else 1_000)

    # 5. Memory: the peak RSS of every server process measured during 1-4.
    for backend in backends:
        peaks = [r["peak_rss_mb"] for r in results if r["backend"] == backend and r.get("peak_rss_mb")]
        if peaks:
            peak = max(peaks)
            line = {"bench": "memory", "backend": backend, "peak_rss_mb": peak, "target": "< 250 MB",
                    "ok": peak < 250}
            print(f"memory {backend:8}: peak RSS of a Taskforce process (API server or dispatcher) "
                  f"during the runs: {peak} MB (target < 250 MB) {'OK' if line['ok'] else 'MISS'}")
            results.append(line)

    info["load_average_at_end"] = os.getloadavg()
    info["seconds"] = round(time.time() - started)
    RESULTS.mkdir(exist_ok=True)
    out = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": info, "quick": args.quick,
           "results": results}
    name = "quick" if args.quick else "latest" if only == {"create", "list", "queue", "callbacks"} else "-".join(sorted(only))
    (RESULTS / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")
    print(f"\n{len(results)} figures in {info['seconds']} s; "
          f"{sum(1 for r in results if r.get('ok'))} met their target; written to bench/results/")
    for r in results:
        if not r.get("ok"):
            print(f"  MISS: {r['bench']} on {r['backend']}" + (f" ({r['body']})" if r.get("body") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
