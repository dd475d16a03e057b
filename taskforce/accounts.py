"""People who sign in to the web app: workers, operators and customer users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from taskforce.clock import now_ms
from taskforce.errors import Conflict, InvalidParameter, NotFound
from taskforce.models import customers, users

ROLES = ("worker", "operator", "customer")
_hasher = PasswordHasher()
#: Verified against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("not a real password")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


class PasswordHash(str):
    """A new password, checked and hashed before the write transaction begins: argon2 takes tens
    of milliseconds by design, and SQLite's write lock must not wait for it."""


def new_password_hash(password: str) -> PasswordHash:
    _check_password(password)
    return PasswordHash(hash_password(password))


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise InvalidParameter("password", "must be at least 8 characters")


def _stored_hash(password: str) -> str:
    """The hash to store: a ``PasswordHash`` as it is (the web's way), else hashed here (the CLI's)."""
    if isinstance(password, PasswordHash):
        return password
    _check_password(password)
    return hash_password(password)


def create_user(conn: Connection, email: str, password: str, role: str, *,
                customer_id: int | None = None, now: int | None = None) -> int:
    email = normalize_email(email)
    if role not in ROLES:
        raise InvalidParameter("role", f"must be one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise InvalidParameter("email", "is not an email address")
    if not isinstance(password, PasswordHash):
        _check_password(password)
    if (role == "customer") != (customer_id is not None):
        raise InvalidParameter("customer_id", "customer users, and only they, belong to a customer")
    if conn.execute(select(users.c.id).where(users.c.email == email)).first():
        raise Conflict(f"a user with email {email} already exists")
    return conn.execute(
        insert(users).values(
            email=email, password_hash=_stored_hash(password), role=role,
            customer_id=customer_id, active=True, created_at=now if now is not None else now_ms(),
        )
    ).inserted_primary_key[0]


# -- signing in, in three steps so that argon2 runs outside any transaction -------------------


def login_candidate(conn: Connection, email: str) -> dict[str, Any] | None:
    """The user row for this email, or None; the password is checked next, with no transaction open."""
    row = conn.execute(select(users).where(users.c.email == normalize_email(email))).mappings().first()
    return dict(row) if row else None


@dataclass(frozen=True)
class PasswordCheck:
    ok: bool
    #: A fresh hash when the stored one used weaker parameters than the hasher's current ones.
    rehashed: str | None = None


def check_password(user: dict[str, Any] | None, password: str) -> PasswordCheck:
    """Verify (in constant-ish time: an unknown email verifies against a dummy hash)."""
    try:
        _hasher.verify(user["password_hash"] if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return PasswordCheck(False)
    if user is None:
        return PasswordCheck(False)
    rehashed = hash_password(password) if _hasher.check_needs_rehash(user["password_hash"]) else None
    return PasswordCheck(True, rehashed)


def record_login(conn: Connection, user: dict[str, Any], check: PasswordCheck) -> dict[str, Any] | None:
    """The user, re-read and still usable with the same password, with the sign-in recorded;
    None when an operator deactivated them or changed the password meanwhile."""
    row = conn.execute(select(users).where(users.c.id == user["id"])).mappings().first()
    if (not check.ok or row is None or row["password_hash"] != user["password_hash"]
            or not is_usable(conn, row)):
        return None
    values: dict[str, Any] = {"last_login_at": now_ms()}
    if check.rehashed:
        values["password_hash"] = check.rehashed
    conn.execute(update(users).where(users.c.id == row["id"]).values(**values))
    return {**row, **values}


def verify_login(conn: Connection, email: str, password: str) -> dict[str, Any] | None:
    """The active user with this email and password, else None, in one transaction (the CLI's
    and tests' way; the web signs in with the three steps above)."""
    user = login_candidate(conn, email)
    check = check_password(user, password)
    return record_login(conn, user, check) if user and check.ok else None


def is_usable(conn: Connection, user: Any) -> bool:
    """Active, and (for a customer user) belonging to an active customer."""
    if not user["active"]:
        return False
    if user["customer_id"] is None:
        return True
    active = conn.execute(select(customers.c.active).where(customers.c.id == user["customer_id"])).scalar()
    return bool(active)


def get_user(conn: Connection, user_id: int) -> dict[str, Any]:
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return dict(row)


def find_by_email(conn: Connection, email: str) -> dict[str, Any]:
    row = conn.execute(select(users).where(users.c.email == normalize_email(email))).mappings().first()
    if row is None:
        raise NotFound(f"no user with email {email}")
    return dict(row)


def set_active(conn: Connection, user_id: int, active: bool) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(active=active))


def set_password(conn: Connection, user_id: int, password: str) -> None:
    """A new password (a ``PasswordHash`` or clear text), which also ends the user's sessions."""
    conn.execute(update(users).where(users.c.id == user_id).values(
        password_hash=_stored_hash(password), session_epoch=users.c.session_epoch + 1))


def end_sessions(conn: Connection, user_id: int) -> None:
    """Every session of this user that began before now stops opening pages (sign-out)."""
    conn.execute(update(users).where(users.c.id == user_id)
                 .values(session_epoch=users.c.session_epoch + 1))


def list_users(conn: Connection, role: str, *, customer_id: int | None = None) -> list[dict[str, Any]]:
    query = select(users).where(users.c.role == role).order_by(func.lower(users.c.email))
    if customer_id is not None:
        query = query.where(users.c.customer_id == customer_id)
    return [dict(r) for r in conn.execute(query).mappings()]
