"""TASKFORCE_SQLITE_SYNCHRONOUS reaches every SQLite connection; anything but NORMAL or FULL is
refused before a connection is made."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from taskforce.config import Settings
from taskforce.db import Database


@pytest.mark.parametrize(("setting", "pragma"), [(None, 1), ("NORMAL", 1), ("FULL", 2)])
def test_the_setting_reaches_the_connection(tmp_path, monkeypatch, setting, pragma):
    monkeypatch.setenv("TASKFORCE_DATABASE_URL", f"sqlite:///{tmp_path / 't.db'}")
    if setting:
        monkeypatch.setenv("TASKFORCE_SQLITE_SYNCHRONOUS", setting)
    db = Database.for_settings(Settings())
    try:
        with db.read() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == pragma
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        db.dispose()


def test_other_values_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TASKFORCE_SQLITE_SYNCHRONOUS", "OFF")
    with pytest.raises(ValidationError):
        Settings()
    with pytest.raises(ValueError):
        Database(f"sqlite:///{tmp_path / 't.db'}", synchronous="OFF; DROP TABLE tasks")
