"""Benchmark 6: bulk import. N categorize bodies as JSON Lines (each with a unique_id), imported by
``bulk_import.Importer`` (parse, the API's validation, batched executemany, the count triggers)
into a fresh database, against the raw baseline: the same rows, already built, inserted with
``executemany`` in the same batches into the same table of another fresh database. Both run in
alternating rounds in one run so load drifts hit both. Also measured: the raw insert with the
``task_counts`` triggers dropped (their cost), and ``taskforce tasks import`` end to end as a
process (what a person waits for). Target: ≥ 20,000 tasks/s and ≥ 50% of the raw insert.

    .venv/bin/python bench/bench_import.py [--tasks 100000] [--backend sqlite|postgres] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from bench.common import ROOT, VENV_BIN, BenchDatabase, make_customer  # noqa: E402


def write_file(path: Path, n: int, tag: str) -> None:
    with open(path, "wb") as f:
        for i in range(n):
            f.write(orjson.dumps({
                "callback_url": "http://www.example.com/callback",
                "instruction": f"Is company {i} public or private?", "attachment_type": "text",
                "attachment": f"Company {i}", "categories": ["public", "private"],
                "urgency": "day", "unique_id": f"{tag}-{i}", "metadata": {"row": i}}) + b"\n")


def raw_rows(customer_id: int, n: int, flag, tag: str) -> list[tuple]:
    from taskforce import ids

    now = int(time.time() * 1000)
    params = orjson.dumps({"attachment_type": "text", "attachment": "x",
                           "categories": ["public", "private"]}).decode()
    return [(ids.new_task_id(), customer_id, flag, "categorization", "pending", "day", 1,
             f"Is company {i} public or private?", "http://www.example.com/callback", params,
             orjson.dumps({"row": i}).decode(), now, None, None, f"{tag}-{i}") for i in range(n)]


def raw_insert(bdb: BenchDatabase, customer_id: int, n: int, batch: int, *, triggers: bool) -> tuple[float, float]:
    """tasks/s (wall, and per CPU-second of this process) of a bare executemany of prebuilt
    rows, ``batch`` rows per transaction."""
    from taskforce import bulk_import

    db = bdb.database(1)
    if not triggers:
        with db.write() as conn:
            for name in ("tasks_count_insert", "tasks_count_update", "tasks_count_delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}"
                                     + ("" if db.is_sqlite else " ON tasks"))
    # Its best case: every id in ascending order, so each batch appends to the primary key's
    # index. (Ids made in one burst share one second's prefix and would land at random places,
    # while the importer's, made over the run, ascend: the raw side would be the slower.)
    rows = sorted(raw_rows(customer_id, n, 1 if db.is_sqlite else True, "raw"))
    sql = bulk_import._insert_sql(db.dialect).split(" ON CONFLICT")[0]
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, n, batch):
        with db.write() as conn:
            bulk_import.prepare(conn)  # the same connection set-up as the importer's
            conn.exec_driver_sql(sql, rows[start:start + batch])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.dispose()
    return n / seconds, n / cpu


def importer(bdb: BenchDatabase, customer_id: int, path: Path, batch: int) -> tuple[float, float]:
    from taskforce import bulk_import

    db = bdb.database(1)
    run = bulk_import.Importer(db, customer_id=customer_id, is_test=False,
                               default_type=bulk_import.type_named("categorize"), batch_size=batch)
    with open(path, "rb") as stream:
        started, cpu = time.perf_counter(), time.process_time()
        report = run.run(bulk_import.records(stream, "jsonl", None))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.dispose()
    assert not report.bad and report.created == report.lines, report
    return report.created / seconds, report.created / cpu


def cli(bdb: BenchDatabase, path: Path, batch: int) -> tuple[float, str]:
    env = {**os.environ, "TASKFORCE_DATABASE_URL": bdb.url, "TASKFORCE_SECRET_KEY": "bench",
           "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    out = subprocess.run([str(VENV_BIN / "taskforce"), "tasks", "import", str(path), "--customer",
                          "bench", "--type", "categorize", "--batch-size", str(batch)],
                         env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, out.stderr.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    # Wall-clock and per-CPU-second rates: on a shared machine the second is the steadier.
    figures: dict[str, list[float]] = {"raw": [], "raw_no_triggers": [], "import": []}
    cpu: dict[str, list[float]] = {"raw": [], "raw_no_triggers": [], "import": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks.jsonl"
        write_file(path, args.tasks, "imp")
        for _ in range(args.rounds):
            for side in ("raw", "import", "raw_no_triggers"):
                bdb = BenchDatabase(args.backend)
                db = bdb.database(1)
                account = make_customer(db, "bench")
                db.dispose()
                if side == "import":
                    rate, per_cpu = importer(bdb, account.customer_id, path, args.batch)
                else:
                    rate, per_cpu = raw_insert(bdb, account.customer_id, args.tasks, args.batch,
                                               triggers=side == "raw")
                figures[side].append(round(rate))
                cpu[side].append(round(per_cpu))
                bdb.drop()
        bdb = BenchDatabase(args.backend)
        db = bdb.database(1)
        make_customer(db, "bench")
        db.dispose()
        cli_seconds, cli_line = cli(bdb, path, args.batch)
        bdb.drop()
    best = {k: max(v) for k, v in figures.items()}
    best_cpu = {k: max(v) for k, v in cpu.items()}
    result = {
        "backend": args.backend, "tasks": args.tasks, "batch": args.batch, "rounds": figures,
        "import_per_s": round(best["import"]), "raw_per_s": round(best["raw"]),
        "raw_no_triggers_per_s": round(best["raw_no_triggers"]),
        "ratio": round(best["import"] / best["raw"], 2),
        "trigger_share_of_raw": round(1 - best["raw"] / best["raw_no_triggers"], 2),
        "per_cpu_second": cpu, "import_per_cpu_s": best_cpu["import"], "raw_per_cpu_s": best_cpu["raw"],
        "raw_no_triggers_per_cpu_s": best_cpu["raw_no_triggers"],
        "ratio_cpu": round(best_cpu["import"] / best_cpu["raw"], 2),
        "cli_seconds": round(cli_seconds, 1), "cli_summary": cli_line,
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
