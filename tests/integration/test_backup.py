"""`taskforce backup PATH` copies a live SQLite database while creates keep arriving; a new server
on the restored copy has every task acknowledged before the backup began. On PostgreSQL it
refuses in one line and names pg_dump."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import httpx
import pytest

from taskforce.app import create_app
from taskforce.config import Settings
from taskforce.db import Database

from tests.conftest import LiveServer
from tests.factories import VALID_PARAMS
from tests.integration.test_multiprocess_serve import ROOT


def _backup(database_url: str, path, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TASKFORCE_DATABASE_URL": database_url, "TASKFORCE_SECRET_KEY": "t",
           "TASKFORCE_SECRET_FILE": str(tmp_path / "secret"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "taskforce", "backup", str(path)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_backup_while_creating_then_restore(server, factory, database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("the online backup is SQLite's; PostgreSQL is test_postgres_names_pg_dump")
    customer = factory.customer()
    acked: list[tuple[float, str]] = []  # (monotonic time the 200 arrived, task_id)
    stop = threading.Event()

    def create() -> None:
        with httpx.Client(base_url=server.url, auth=customer.live_auth, timeout=30) as client:
            while not stop.is_set():
                r = client.post("/v1/task/categorize", json=VALID_PARAMS["categorization"])
                assert r.status_code == 200
                acked.append((time.monotonic(), r.json()["task_id"]))

    creators = [threading.Thread(target=create) for _ in range(3)]
    for t in creators:
        t.start()
    try:
        while len(acked) < 50:
            time.sleep(0.02)
        began = time.monotonic()
        result = _backup(database_url, tmp_path / "backup.db", tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"backed up to {tmp_path / 'backup.db'}")
        ended = time.monotonic()
        while len([a for a in acked if a[0] > ended]) < 20:  # creates went on during and after
            time.sleep(0.02)
    finally:
        stop.set()
        for t in creators:
            t.join()
    before = [task_id for at, task_id in acked if at < began]
    after = [task_id for at, task_id in acked if at > ended]
    assert len(before) >= 50

    restored = tmp_path / "restored" / "taskforce.db"
    restored.parent.mkdir()
    shutil.copy(tmp_path / "backup.db", restored)  # the README's restore: copy it into place
    url = f"sqlite:///{restored}"
    db = Database(url)
    try:
        settings = Settings(database_url=url, secret_key="s", run_dispatcher=False)
        with LiveServer(create_app(settings, db)) as again:
            with httpx.Client(base_url=again.url, auth=customer.live_auth, timeout=30) as client:
                assert client.get("/readyz").status_code == 200
                for task_id in before:
                    assert client.get(f"/v1/task/{task_id}").status_code == 200, task_id
                # Nothing acknowledged after the copy finished can be in it.
                assert all(client.get(f"/v1/task/{t}").status_code == 404 for t in after[:20])
                total = client.get("/v1/tasks").json()["total"]
                assert len(before) <= total <= len(acked) - len(after)
    finally:
        db.dispose()
    # An existing file is never overwritten by accident.
    again = _backup(database_url, tmp_path / "backup.db", tmp_path)
    assert again.returncode == 1 and again.stderr.strip().endswith("choose a new path or say --force")


def test_postgres_names_pg_dump(database_url, tmp_path):
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    result = _backup(database_url, tmp_path / "b.db", tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "pg_dump --format=custom" in line and "pg_restore" in line
    assert not (tmp_path / "b.db").exists()
