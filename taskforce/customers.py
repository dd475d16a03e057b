"""Customers, their API keys and their callback secrets."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from taskforce import ids
from taskforce.clock import now_ms
from taskforce.errors import InvalidParameter, NotFound, Unauthorized
from taskforce.models import api_keys, customers, tasks, users
from taskforce.storable_text import is_storable
from taskforce.tasks.status import Status

MODES = ("live", "test")


@dataclass(frozen=True)
class ApiPrincipal:
    """Who an API request acts for: a customer, in live or test mode."""

    customer_id: int
    key_id: int
    is_test: bool


def create_customer(conn: Connection, name: str, *, now: int | None = None) -> int:
    return conn.execute(
        insert(customers).values(
            name=name,
            callback_auth_key=ids.new_callback_auth_key(),
            signing_secret=ids.new_signing_secret(),
            active=True,
            created_at=now if now is not None else now_ms(),
        )
    ).inserted_primary_key[0]


def find_customer(conn: Connection, ref: str) -> dict[str, Any]:
    """A customer by id or by exact name (none for text no customer could have)."""
    query = select(customers)
    if "\x00" in ref or len(ref) > 200:
        raise NotFound(f"no customer {ref[:50]!r}")
    # Digits are an id while they fit an id column (longer ones would overflow the driver).
    by_id = ids.is_ascii_number(ref) and len(ref) <= 18
    query = query.where(customers.c.id == int(ref)) if by_id else query.where(customers.c.name == ref)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"no customer {ref!r}")
    return dict(row)


def list_with_volume(conn: Connection, *, since: int, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` customers, each with its number of customer users, and of live tasks
    created since ``since`` and pending now (the operator's Customers page).

    Three grouped statements for the whole page, whatever its length: each count walks one
    index's entries for the listed customers only (customer_id, is_test, created_at) and
    (customer_id, is_test, status).
    """
    rows = [dict(r) for r in conn.execute(
        select(customers.c.id, customers.c.name, customers.c.active, customers.c.created_at)
        .order_by(customers.c.id.desc()).limit(limit)
    ).mappings()]
    ids = [r["id"] for r in rows]
    if not ids:
        return rows
    live = (tasks.c.customer_id.in_(ids), tasks.c.is_test == False)  # noqa: E712
    recent = dict(conn.execute(
        select(tasks.c.customer_id, func.count()).where(*live, tasks.c.created_at >= since)
        .group_by(tasks.c.customer_id)
    ).all())
    pending = dict(conn.execute(
        select(tasks.c.customer_id, func.count()).where(*live, tasks.c.status == Status.PENDING.value)
        .group_by(tasks.c.customer_id)
    ).all())
    user_counts = dict(conn.execute(
        select(users.c.customer_id, func.count())
        .where(users.c.role == "customer", users.c.customer_id.in_(ids))
        .group_by(users.c.customer_id)
    ).all())
    for row in rows:
        row.update(last_30_days=recent.get(row["id"], 0), pending=pending.get(row["id"], 0),
                   users=user_counts.get(row["id"], 0))
    return rows


def list_api_keys(conn: Connection, customer_id: int) -> list[dict[str, Any]]:
    """The customer's keys as the dashboard lists them (never the hash): live ones first, newest first."""
    rows = conn.execute(
        select(api_keys.c.prefix, api_keys.c.last4, api_keys.c.mode, api_keys.c.name,
               api_keys.c.created_at, api_keys.c.last_used_at, api_keys.c.revoked_at)
        .where(api_keys.c.customer_id == customer_id)
        .order_by(api_keys.c.revoked_at.is_not(None), api_keys.c.created_at.desc(), api_keys.c.id.desc())
    ).mappings()
    return [dict(r) for r in rows]


#: Longest key name (the column's width).
MAX_KEY_NAME = 100


def key_name(raw: str | None) -> str | None:
    """A key's name as stored: trimmed, None when blank; ``InvalidParameter`` when too long or
    holding characters no column can store (a name is the customer's label, shown in lists)."""
    name = (raw or "").strip()
    if not name:
        return None
    if len(name) > MAX_KEY_NAME:
        raise InvalidParameter("name", f"must be at most {MAX_KEY_NAME} characters")
    if not is_storable(name) or any(ch < " " for ch in name):
        raise InvalidParameter("name", "must not contain control characters")
    return name


def create_api_key(conn: Connection, customer_id: int, mode: str, *, name: str | None = None,
                   now: int | None = None) -> str:
    """Mint a key; returns it in full (the only time it exists in clear). ``name`` is the
    customer's optional label for it (checked by ``key_name``)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    name = key_name(name)
    key = ids.new_api_key(mode)
    conn.execute(
        insert(api_keys).values(
            customer_id=customer_id,
            mode=mode,
            prefix=ids.api_key_prefix(key),
            key_hash=ids.hash_api_key(key),
            last4=key[-4:],
            name=name,
            created_at=now if now is not None else now_ms(),
        )
    )
    return key


def revoke_api_key(conn: Connection, prefix: str, *, customer_id: int | None = None,
                   now: int | None = None) -> bool:
    query = update(api_keys).where(api_keys.c.prefix == prefix[: ids.API_KEY_PREFIX_LEN],
                                   api_keys.c.revoked_at.is_(None))
    if customer_id is not None:
        query = query.where(api_keys.c.customer_id == customer_id)
    return bool(conn.execute(query.values(revoked_at=now if now is not None else now_ms())).rowcount)


#: last_used_at is written at most this often per key, so reads do not all become writes.
LAST_USED_RESOLUTION_MS = 60_000


# Built once: every API request runs it, and building a statement (plus its cache key) per call
# cost more than executing it (bench/README.md, the create profile).
_KEY_BY_PREFIX = (
    select(api_keys.c.id, api_keys.c.customer_id, api_keys.c.mode, api_keys.c.key_hash,
           api_keys.c.revoked_at, api_keys.c.last_used_at, customers.c.active)
    .join(customers, customers.c.id == api_keys.c.customer_id)
    .where(api_keys.c.prefix == bindparam("prefix"))
)


def authenticate(conn: Connection, key: str) -> tuple[ApiPrincipal, int | None]:
    """The principal for an API key, and its last_used_at; Unauthorized if unknown or revoked."""
    if not key.startswith(("live_", "test_")) or len(key) > 100:
        raise Unauthorized("invalid API key")
    row = conn.execute(_KEY_BY_PREFIX, {"prefix": ids.api_key_prefix(key)}).first()
    if row is None or not hmac.compare_digest(row.key_hash, ids.hash_api_key(key)):
        raise Unauthorized("invalid API key")
    if row.revoked_at is not None:
        raise Unauthorized("this API key has been revoked")
    if not row.active:
        raise Unauthorized("this account is deactivated")
    return ApiPrincipal(row.customer_id, row.id, row.mode == "test"), row.last_used_at


def touch_api_key(conn: Connection, key_id: int, *, now: int) -> None:
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))


def rotate_callback_auth_key(conn: Connection, customer_id: int) -> str:
    key = ids.new_callback_auth_key()
    conn.execute(update(customers).where(customers.c.id == customer_id).values(callback_auth_key=key))
    return key


def rotate_signing_secret(conn: Connection, customer_id: int, *, grace_seconds: int,
                          now: int | None = None) -> str:
    """New secret; the old one keeps signing (alongside) for ``grace_seconds``."""
    now = now if now is not None else now_ms()
    old = conn.execute(select(customers.c.signing_secret).where(customers.c.id == customer_id)).scalar_one()
    secret = ids.new_signing_secret()
    conn.execute(
        update(customers).where(customers.c.id == customer_id).values(
            signing_secret=secret,
            previous_signing_secret=old,
            previous_secret_expires_at=now + grace_seconds * 1000,
        )
    )
    return secret
