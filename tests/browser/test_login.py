from __future__ import annotations

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_wrong_password_then_right_one(page, server, factory, sign_in):
    worker = factory.user("worker")
    sign_in(worker["email"], "wrong password")
    assert "Wrong email or password" in page.content()
    sign_in(worker["email"], PASSWORD)
    assert page.url.startswith(server.url)
    assert "/login" not in page.url
