"""Identifiers and secrets minted by Taskforce."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time


def new_task_id() -> str:
    """24 lowercase hex characters, like the seed's: 4 bytes of seconds, then 8 random bytes."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}{secrets.token_hex(8)}"


_TASK_ID = re.compile(r"[0-9a-f]{24}")


def is_task_id(text: str) -> bool:
    """The shape ``new_task_id`` mints: checked before any query, so a URL holding anything
    else (a NUL, a megabyte) is a 404 without touching the database."""
    return _TASK_ID.fullmatch(text) is not None


def new_api_key(mode: str) -> str:
    return f"{mode}_{secrets.token_hex(20)}"


#: How much of an API key is kept in clear to find its row and to show it in lists.
API_KEY_PREFIX_LEN = 13


def api_key_prefix(key: str) -> str:
    return key[:API_KEY_PREFIX_LEN]


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_callback_auth_key() -> str:
    return secrets.token_hex(24)


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_lease_token() -> str:
    return secrets.token_hex(16)


def is_ascii_number(text: str) -> bool:
    """Digits 0-9 only. ``str.isdigit()`` is also true of "²" and "¹", which ``int()`` refuses:
    every number read from a request is checked with this before ``int()``."""
    return text.isascii() and text.isdigit()
