"""Standard Webhooks signatures, checked with the independent ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from taskforce import ids
from taskforce.callbacks import signing

BODY = b'{"task":{"task_id":"abc"},"response":{"category":"big"},"task_id":"abc"}'


def customer(**extra):
    return {"callback_auth_key": "auth-key", "signing_secret": ids.new_signing_secret(),
            "previous_signing_secret": None, "previous_secret_expires_at": None, **extra}


def test_signature_matches_the_spec_by_hand():
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    expected = base64.b64encode(
        hmac.new(b"k" * 32, b"msg_1.1700000000." + BODY, hashlib.sha256).digest()
    ).decode()
    assert signing.sign(secret, "msg_1", 1700000000, BODY) == "v1," + expected


def test_headers_verify_with_standardwebhooks():
    c = customer()
    ts = int(time.time())
    headers = signing.callback_headers(c, "msg_abc", BODY, timestamp=ts, now_ms=ts * 1000)
    assert headers["scale-callback-auth"] == "auth-key"
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(ts)
    assert headers["Content-Type"] == "application/json"
    assert Webhook(c["signing_secret"]).verify(BODY, headers) is not None
    with pytest.raises(WebhookVerificationError):
        Webhook(ids.new_signing_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(c["signing_secret"]).verify(BODY + b" ", headers)


def test_both_secrets_sign_during_the_grace_period_only():
    old, new = ids.new_signing_secret(), ids.new_signing_secret()
    ts = int(time.time())
    c = customer(signing_secret=new, previous_signing_secret=old,
                 previous_secret_expires_at=ts * 1000 + 60_000)
    headers = signing.callback_headers(c, "msg_x", BODY, timestamp=ts, now_ms=ts * 1000)
    assert len(headers["webhook-signature"].split(" ")) == 2
    # A receiver holding either secret accepts the callback.
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)

    after = signing.callback_headers(c, "msg_x", BODY, timestamp=ts, now_ms=ts * 1000 + 60_001)
    assert len(after["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(BODY, after)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, after)


def test_a_stale_timestamp_is_rejected_by_receivers():
    c = customer()
    ts = int(time.time()) - 3600
    headers = signing.callback_headers(c, "msg_old", BODY, timestamp=ts, now_ms=ts * 1000)
    with pytest.raises(WebhookVerificationError):
        Webhook(c["signing_secret"]).verify(BODY, headers)
