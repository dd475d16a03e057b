"""The tasks page's search box (issue 13, item 19): a task id, a unique_id or a metadata value,
only ever among the signed-in customer's tasks, and no input is an error. Both backends."""

from __future__ import annotations

import pytest

from taskforce.tasks import queries
from tests.integration.test_dashboard import _row_ids, acme, acme_client  # noqa: F401 - fixtures


@pytest.fixture
def tasks_of_two(acme, factory):
    customer = acme[0]
    other = factory.customer("other")
    mine = {
        "plain": factory.task(customer, now=1000),
        "unique": factory.task(customer, now=2000, unique_id="order-77"),
        "meta": factory.task(customer, now=3000, metadata={"order": "A-17", "n": 5, "ok": True,
                                                              "nested": {"order": "A-17"}}),
        "meta2": factory.task(customer, now=4000, metadata={"ref": "A-17"}),
        "equals": factory.task(customer, now=5000, metadata={"note": "x=y"}),
        "test": factory.task(customer, now=6000, is_test=True, unique_id="order-77",
                             metadata={"order": "A-17"}),
    }
    theirs = factory.task(other, now=7000, unique_id="order-77", metadata={"order": "A-17"})
    return mine, theirs


def _search(client, text: str, mode: str = "") -> list[str]:
    r = client.get("/dashboard/tasks", params={"q": text, **({"mode": mode} if mode else {})})
    assert r.status_code == 200
    return _row_ids(r.text)


def test_search_by_id_unique_id_and_metadata(acme_client, tasks_of_two):  # noqa: F811
    mine, theirs = tasks_of_two
    # An exact task id, in either mode; never another customer's.
    assert _search(acme_client, mine["plain"]["id"]) == [mine["plain"]["id"]]
    assert _search(acme_client, f"  {mine['test']['id']} ") == [mine["test"]["id"]]
    assert _search(acme_client, theirs["id"]) == []
    # A unique_id: this mode's task first, then the other mode's.
    assert _search(acme_client, "order-77") == [mine["unique"]["id"], mine["test"]["id"]]
    assert _search(acme_client, "order-77", "test") == [mine["test"]["id"], mine["unique"]["id"]]
    # key=value, and any top-level value; newest first, this mode only; nested values are not searched.
    assert _search(acme_client, "order=A-17") == [mine["meta"]["id"]]
    assert _search(acme_client, "A-17") == [mine["meta2"]["id"], mine["meta"]["id"]]
    assert _search(acme_client, "order=A-17", "test") == [mine["test"]["id"]]
    assert _search(acme_client, "n=5") == [mine["meta"]["id"]]
    assert _search(acme_client, "ok = true") == [mine["meta"]["id"]]
    assert _search(acme_client, "x=y") == [mine["equals"]["id"]]  # a value holding "="
    assert _search(acme_client, "order=A-1") == []
    page = acme_client.get("/dashboard/tasks", params={"q": "A-17"}).text
    assert "data-search-note" in page and "newest 10,000" in page


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "%", "_", "' OR 1=1 --", "é" * 500,
                                  "\u202e\u200b", "=", "a" * 24, "0" * 24, "\ufffd", "🙂=🙂"])
def test_odd_searches_find_nothing_and_never_fail(acme_client, tasks_of_two, text):  # noqa: F811
    r = acme_client.get("/dashboard/tasks", params={"q": text})
    assert r.status_code == 200
    assert _row_ids(r.text) == []
    assert "<script>alert" not in r.text


def test_unstorable_search_text_is_refused_not_a_500(acme_client, tasks_of_two):  # noqa: F811
    for raw in ("%00", "abc%00def", "%ED%A0%80"):
        r = acme_client.get(f"/dashboard/tasks?q={raw}")
        assert r.status_code in (200, 400), r.status_code
        assert "Traceback" not in r.text


def test_the_metadata_scan_is_bounded(db, acme, factory, tasks_of_two):  # noqa: F811
    customer = acme[0]
    mine, _ = tasks_of_two
    for i in range(5):
        factory.task(customer, now=10_000 + i, metadata={"batch": "later"})
    with db.read() as conn:
        # Only the newest 3 tasks are read: the older match is not found, and the result says so.
        capped = queries.search(conn, customer.id, False, "A-17", scan=3)
        assert capped.rows == [] and capped.scanned == 3 and capped.scan_capped
        found = queries.search(conn, customer.id, False, "A-17", scan=100)
        assert [r["id"] for r in found.rows] == [mine["meta2"]["id"], mine["meta"]["id"]]
        assert not found.scan_capped
        # An id or unique_id is found however old: they use their indexes, not the scan.
        assert [r["id"] for r in queries.search(conn, customer.id, False, "order-77", scan=1).rows][0] == \
            mine["unique"]["id"]
        # The limit stops the scan early.
        assert len(queries.search(conn, customer.id, False, "later", limit=2).rows) == 2
