"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`` keyed with the
bytes of the customer's ``whsec_<base64>`` secret. During a rotation's grace period both the new
and the previous secret sign, space-separated, so receivers can switch secrets at their own pace.

Written on the standard library's ``hmac`` rather than the ``standardwebhooks`` package: its
signer takes one secret, and the tests verify our headers with that package, which is only an
independent check if it did not also produce them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

SECRET_PREFIX = "whsec_"


def secret_bytes(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<signature>`` entry."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(customer: Mapping[str, Any], *, now_ms: int) -> list[str]:
    """The secrets that sign now: the current one, then the previous one while it is in grace."""
    secrets = [customer["signing_secret"]]
    previous = customer.get("previous_signing_secret")
    expires = customer.get("previous_secret_expires_at")
    if previous and expires is not None and expires > now_ms and previous != secrets[0]:
        secrets.append(previous)
    return secrets


def callback_headers(customer: Mapping[str, Any], webhook_id: str, body: bytes, *,
                     timestamp: int, now_ms: int) -> dict[str, str]:
    """Every header a callback carries: the seed's auth key plus the Standard Webhooks trio."""
    signature = " ".join(sign(s, webhook_id, timestamp, body)
                         for s in signing_secrets(customer, now_ms=now_ms))
    return {
        "Content-Type": "application/json",
        "scale-callback-auth": customer["callback_auth_key"],
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
