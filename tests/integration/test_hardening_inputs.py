"""Every input answered with the right status, never a 500 (issue 13, items 3 and 5)."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import create_engine, insert, make_url, text

from taskforce.db import CommitOutcomeUnknown, DatabaseUnavailable
from taskforce.models import site_settings

from tests.integration.test_dashboard import signed_in


def _token(created: str, task_id: str = "0" * 24) -> str:
    return base64.urlsafe_b64encode(f"{created}:{task_id}".encode()).decode().rstrip("=")


BAD_TIMES = [str(2**63), str(2**64), "9" * 40, "-1", "１２３", "1_000", " 12"]


@pytest.mark.parametrize("created", BAD_TIMES)
def test_a_crafted_next_token_is_a_400_on_the_api(client, factory, created):
    customer = factory.customer()
    factory.task(customer)
    r = client.get("/v1/tasks", params={"next_token": _token(created)}, auth=customer.live_auth)
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith("next_token"), r.text


def test_a_crafted_next_token_is_explained_on_the_dashboard(app, factory):
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    task = factory.task(customer)
    browser = signed_in(app, user["email"])
    for created in BAD_TIMES:
        r = browser.get("/dashboard/tasks", params={"next_token": _token(created)})
        assert r.status_code == 200, (created, r.text[:300])
        assert "next_token" in r.text and task["id"] in r.text  # the first page, with the reason
    # The largest time a token can carry still answers (an empty page past the end).
    r = browser.get("/dashboard/tasks", params={"next_token": _token(str(2**63 - 1))})
    assert r.status_code == 200


# -- item 5: a connection lost while the server refuses new ones ---------------------------

def _connections_allowed(url: str, allowed: bool) -> None:
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}'))
    admin.dispose()


def test_a_connection_lost_during_a_restart_is_a_503_not_the_reconnects_error(db, database_url):
    """What a PostgreSQL restart does: the connection dies mid-transaction and reconnecting
    fails too. The unit of work must end as DatabaseUnavailable (503), not as the error of a
    reconnect attempted while cleaning up."""
    if db.is_sqlite:
        pytest.skip("SQLite has no server to lose")
    try:
        for unit in (db.write, db.read):
            with pytest.raises(DatabaseUnavailable) as raised:
                with unit() as conn:
                    conn.execute(insert(site_settings).values(name="lost", value={})) if unit == db.write else None
                    _connections_allowed(database_url, False)
                    conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
            assert not isinstance(raised.value, CommitOutcomeUnknown)
            assert raised.value.status_code == 503
            _connections_allowed(database_url, True)
    finally:
        _connections_allowed(database_url, True)
    with db.read() as conn:  # and the pool recovers once the server takes connections again
        assert conn.execute(text("SELECT count(*) FROM site_settings")).scalar_one() == 0


def test_the_api_answers_503_when_the_connection_dies_mid_request(client, factory, db, database_url,
                                                                  monkeypatch):
    if db.is_sqlite:
        pytest.skip("SQLite has no server to lose")
    from taskforce.tasks import queries

    customer = factory.customer()
    real = queries.list_page

    def dying(conn, *args, **kwargs):
        _connections_allowed(database_url, False)
        conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return real(conn, *args, **kwargs)

    monkeypatch.setattr(queries, "list_page", dying)
    try:
        r = client.get("/v1/tasks", auth=customer.live_auth)
    finally:
        _connections_allowed(database_url, True)
    assert r.status_code == 503, r.text
    assert r.json() == {"status_code": 503, "error": "the database is unavailable; retry shortly"}


def test_the_task_page_shows_params_and_metadata_as_written(app, factory):
    """Issue 13, item 16: not Jinja's tojson (keys re-sorted, Arabic as \\u0645…, < as \\u003c);
    still escaped as HTML."""
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    task = factory.task(customer, "categorization", instruction="line one\nline two",
                        categories=["zeta", "<i>alpha</i>"],
                        metadata={"z": 1, "a": "مرحبا", "html": "<script>alert(1)</script>"})
    html = signed_in(app, user["email"]).get(f"/dashboard/tasks/{task['id']}").text
    assert "\\u" not in html
    assert "مرحبا" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "&lt;i&gt;alpha&lt;/i&gt;" in html
    assert html.index("&#34;z&#34;") < html.index("&#34;a&#34;") < html.index("&#34;html&#34;")
    assert "line one\nline two" in html
