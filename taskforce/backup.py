"""``taskforce backup PATH``: a consistent copy of a live SQLite database.

SQLite's online backup API (``sqlite3.Connection.backup``) copies every page in one step, inside
one read transaction: under WAL, writers go on committing meanwhile and the copy is the database
exactly as it was when the step began (a stepwise backup would restart whenever another
connection writes). The copy is written beside PATH and renamed into place, so PATH is either the
whole backup or absent. PostgreSQL is backed up with ``pg_dump`` (README, deployment).
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from taskforce.errors import TaskforceError


class BackupRefused(TaskforceError):
    status_code = 400


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    seconds: float


def pg_dump_hint(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", password=None)
    return ("this database is PostgreSQL: back it up with pg_dump, e.g. "
            f"pg_dump --format=custom --file=taskforce.dump '{parsed.render_as_string()}' "
            "(restore with pg_restore --clean --dbname=…)")


def sqlite_path(url: str) -> Path:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupRefused(pg_dump_hint(url))
    if not parsed.database or parsed.database == ":memory:":
        raise BackupRefused("an in-memory database cannot be backed up")
    return Path(parsed.database)


def backup(url: str, target: Path, *, overwrite: bool = False) -> BackupResult:
    source_path = sqlite_path(url)
    if not source_path.exists():
        raise BackupRefused(f"no database at {source_path}")
    target = Path(target)
    if target.exists() and not overwrite:
        raise BackupRefused(f"{target} exists; choose a new path or say --force")
    if target.resolve() == source_path.resolve():
        raise BackupRefused("the backup path is the database itself")
    if not target.parent.is_dir():
        raise BackupRefused(f"no folder {target.parent}")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    started = time.perf_counter()
    source = sqlite3.connect(source_path, timeout=30)
    try:
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest)  # pages=-1: every page in one step, one consistent snapshot
            # A self-contained file: no -wal beside it to lose when it is copied elsewhere.
            dest.execute("PRAGMA journal_mode=DELETE")
            check = dest.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            dest.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    if check != "ok":
        partial.unlink(missing_ok=True)
        raise BackupRefused(f"the copy failed its integrity check: {check}")
    os.replace(partial, target)
    return BackupResult(target, target.stat().st_size, time.perf_counter() - started)
