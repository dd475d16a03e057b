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


def test_the_browser_gets_error_pages_in_the_apps_look(page, server, factory, sign_in):
    response = page.goto(f"{server.url}/no/such/page")
    assert response.status == 404
    assert page.inner_text("main").strip().startswith("Sorry")
    assert "There is no such page" in page.inner_text("main")
    assert page.is_visible("header.topbar a.brand")
    # A NUL in an address: a 400 page, not a database error.
    sign_in(factory.user("worker")["email"], PASSWORD)
    response = page.goto(f"{server.url}/work/task/0123456789abcdef0123456%00")
    assert response.status == 400 and page.is_visible("header.topbar a.brand")
    assert "cannot be stored" in page.inner_text("main")
