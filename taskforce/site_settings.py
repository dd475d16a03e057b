"""Operator-controlled switches, stored as JSON values in ``site_settings`` by name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from taskforce.models import site_settings

#: Whether anyone may create a customer account from /signup. Off unless an operator turns it on.
SELF_SIGNUP = "self_signup"

DEFAULTS: dict[str, Any] = {SELF_SIGNUP: False}


def get(conn: Connection, name: str) -> Any:
    value = conn.execute(select(site_settings.c.value).where(site_settings.c.name == name)).first()
    return DEFAULTS.get(name) if value is None else value[0]


def put(conn: Connection, name: str, value: Any) -> None:
    """Insert or replace. (On PostgreSQL two first-ever writes of one name at the same instant
    make one of them fail on the primary key, which the operator simply retries.)"""
    changed = conn.execute(
        update(site_settings).where(site_settings.c.name == name).values(value=value)
    ).rowcount
    if not changed:
        conn.execute(insert(site_settings).values(name=name, value=value))


def signup_enabled(conn: Connection) -> bool:
    return get(conn, SELF_SIGNUP) is True
