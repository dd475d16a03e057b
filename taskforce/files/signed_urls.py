"""Short-lived signed URLs on our origin for ``scaledata://`` attachments.

``/files/ID?expires=MS&signature=HMAC``: anyone holding the URL may read the file until it
expires (a worker's page, the browser's <img>), nobody can make one without the secret key, and
it names exactly one file and one expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from taskforce.clock import now_ms
from taskforce.files.records import file_id_of, is_scaledata_url

PREFIX = "/files/"
_PATH = re.compile(r"/files/[0-9a-f]{24}\?expires=[0-9]{1,16}&signature=[0-9a-f]{64}")


def _key(secret_key: str) -> bytes:
    # Never the session key itself: a signature for a file must not be one for anything else.
    return hashlib.sha256(b"taskforce-file-url:" + (secret_key or "insecure-development-key").encode()).digest()


def signature(secret_key: str, file_id: str, expires: int) -> str:
    return hmac.new(_key(secret_key), f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def sign(secret_key: str, file_id: str, *, seconds: int, now: int | None = None) -> str:
    expires = (now if now is not None else now_ms()) + seconds * 1000
    return f"{PREFIX}{file_id}?expires={expires}&signature={signature(secret_key, file_id, expires)}"


def verify(secret_key: str, file_id: str, expires: str, given: str, *, now: int | None = None) -> bool:
    if not expires.isascii() or not expires.isdigit() or len(expires) > 16:
        return False
    if int(expires) < (now if now is not None else now_ms()):
        return False
    return hmac.compare_digest(signature(secret_key, file_id, int(expires)), given)


def attachment_src(secret_key: str, value: str, *, seconds: int) -> str:
    """What a page puts in src/href for an attachment: a signed URL for ``scaledata://``."""
    if is_scaledata_url(value):
        return sign(secret_key, file_id_of(value), seconds=seconds)
    return value


def is_signed_path(value: str) -> bool:
    """A URL ``sign`` made (the attachment templates allow these besides http(s) URLs)."""
    return bool(_PATH.fullmatch(value))
