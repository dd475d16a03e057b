"""People who sign in to the web app: workers, operators and customer users."""

from __future__ import annotations

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


def create_user(conn: Connection, email: str, password: str, role: str, *,
                customer_id: int | None = None, now: int | None = None) -> int:
    email = normalize_email(email)
    if role not in ROLES:
        raise InvalidParameter("role", f"must be one of {', '.join(ROLES)}")
    if "@" not in email or len(email) > 254:
        raise InvalidParameter("email", "is not an email address")
    if len(password) < 8:
        raise InvalidParameter("password", "must be at least 8 characters")
    if (role == "customer") != (customer_id is not None):
        raise InvalidParameter("customer_id", "customer users, and only they, belong to a customer")
    if conn.execute(select(users.c.id).where(users.c.email == email)).first():
        raise Conflict(f"a user with email {email} already exists")
    return conn.execute(
        insert(users).values(
            email=email, password_hash=hash_password(password), role=role,
            customer_id=customer_id, active=True, created_at=now if now is not None else now_ms(),
        )
    ).inserted_primary_key[0]


def verify_login(conn: Connection, email: str, password: str) -> dict[str, Any] | None:
    """The active user with this email and password, else None (in constant-ish time)."""
    row = conn.execute(select(users).where(users.c.email == normalize_email(email))).mappings().first()
    try:
        _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not is_usable(conn, row):
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        conn.execute(update(users).where(users.c.id == row["id"])
                     .values(password_hash=hash_password(password)))
    conn.execute(update(users).where(users.c.id == row["id"]).values(last_login_at=now_ms()))
    return dict(row)


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
    if len(password) < 8:
        raise InvalidParameter("password", "must be at least 8 characters")
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=hash_password(password)))


def list_users(conn: Connection, role: str, *, customer_id: int | None = None) -> list[dict[str, Any]]:
    query = select(users).where(users.c.role == role).order_by(func.lower(users.c.email))
    if customer_id is not None:
        query = query.where(users.c.customer_id == customer_id)
    return [dict(r) for r in conn.execute(query).mappings()]
