"""Run Alembic migrations from code (``taskforce migrate`` and the test fixtures)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from taskforce.db import Database

    db = Database(url, pool_size=1)  # creates the SQLite file's folder and sets WAL
    try:
        with db.engine.connect() as conn:
            if db.is_sqlite:
                # A migration that rebuilds a table other tables point at (SQLite cannot drop a
                # column otherwise) must run with foreign keys off; SQLite ignores this PRAGMA
                # inside a transaction, so it is set before BEGIN, and checked before COMMIT.
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    cfg = alembic_config(url)
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                    if db.is_sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:5]}")
            finally:
                if db.is_sqlite:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    finally:
        db.dispose()
