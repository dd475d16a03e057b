"""A worker skips with a reason, or flags a broken attachment; the reason is stored with the skip
and operators read it (escaped) on /operator/skips (issue 13, item 19). Both backends."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from taskforce.models import task_skips
from taskforce.tasks import skips
from tests.integration.test_worker_pages import LEASE, open_next, sign_in


def _skips(db) -> dict[str, str | None]:
    with db.read() as conn:
        return {r.task_id: r.reason for r in conn.execute(select(task_skips.c.task_id, task_skips.c.reason))}


def test_reasons_are_stored_and_shown_to_operators_escaped(app, factory, db):
    customer = factory.customer()
    plain, reasoned, flagged, other = (factory.task(customer, now=i, attachment_type="image",
                                                    attachment=f"http://img.example.test/{i}.jpg")
                                       for i in range(1, 5))
    compared = factory.task(customer, "comparison", now=5)
    worker_client = TestClient(app, follow_redirects=True)
    worker = factory.user("worker")
    token = sign_in(worker_client, worker)

    task_id, page = open_next(worker_client, token)
    assert task_id == plain["id"]
    # The page offers the reasons, a note and the flag.
    assert 'name="skip_reason"' in page and 'name="skip_note"' in page and "data-flag-attachment" in page
    r = worker_client.post(f"/work/task/{task_id}/skip",
                           data={"csrf_token": token, "lease": LEASE.search(page).group(1)},
                           follow_redirects=False)
    assert r.headers["location"] == f"/work/task/{reasoned['id']}"
    page = worker_client.get(r.headers["location"]).text
    worker_client.post(f"/work/task/{reasoned['id']}/skip",
                       data={"csrf_token": token, "lease": LEASE.search(page).group(1),
                             "skip_reason": "unclear", "skip_note": "<b>French</b>\ntext   only"})
    page = worker_client.get(f"/work/task/{flagged['id']}").text
    r = worker_client.post(f"/work/task/{flagged['id']}/skip",
                           data={"csrf_token": token, "lease": LEASE.search(page).group(1),
                                 "flag": "attachment", "skip_reason": "cannot"})
    assert "attachment is flagged" in r.text
    page = worker_client.get(f"/work/task/{other['id']}").text
    worker_client.post(f"/work/task/{other['id']}/skip",
                       data={"csrf_token": token, "lease": LEASE.search(page).group(1),
                             "skip_reason": "no-such-reason", "skip_note": "x" * 900})
    page = worker_client.get(f"/work/task/{compared['id']}").text
    worker_client.post(f"/work/task/{compared['id']}/skip",
                       data={"csrf_token": token, "lease": LEASE.search(page).group(1), "flag": "attachment"})

    stored = _skips(db)
    assert stored[plain["id"]] is None
    assert stored[reasoned["id"]] == "instructions unclear: <b>French</b> text only"
    assert stored[flagged["id"]] == skips.ATTACHMENT_BROKEN
    assert stored[other["id"]] == "other: " + "x" * skips.MAX_NOTE

    operator_client = TestClient(app, follow_redirects=True)
    sign_in(operator_client, factory.user("operator"))
    html = operator_client.get("/operator/skips").text
    assert 'data-flagged="' + flagged["id"] + '"' in html
    assert 'data-flagged="' + reasoned["id"] + '"' not in html
    assert "http://img.example.test/3.jpg" in html
    assert "http://i.ebayimg.com/00/a.JPG" in html and "http://images.wisegeek.com/b.jpg" in html
    assert "&lt;b&gt;French&lt;/b&gt; text only" in html and "<b>French" not in html
    assert f'data-skip="{plain["id"]}"' not in html  # no reason: not in "recent skips with a reason"
    one = operator_client.get(f"/operator/skips?task={plain['id']}").text
    assert f'data-skip="{plain["id"]}"' in one and worker["email"] in one
    # Any other ?task= is ignored, never an error.
    assert operator_client.get("/operator/skips?task=%27%3Cx%3E").status_code == 200
    queue = operator_client.get("/operator/queue").text
    assert "2 waiting tasks have an attachment flagged as broken" in queue
    # Workers and signed-out visitors do not see it.
    assert worker_client.get("/operator/skips").status_code == 403


def test_reason_text():
    assert skips.reason_text("", "") is None
    assert skips.reason_text("", "   ") is None
    assert skips.reason_text("attachment_broken", "") == "attachment broken"
    assert skips.reason_text("attachment_broken", "404") == "attachment broken: 404"
    assert skips.reason_text("bogus", "") is None
    assert skips.reason_text("", "just because") == "other: just because"
    assert len(skips.reason_text("cannot", "y" * 5000)) <= 600  # fits the column


def test_no_flag_button_without_an_attachment(client, factory):
    factory.task(factory.customer(), "phonecall")
    token = sign_in(client, factory.user("worker"))
    _, page = open_next(client, token)
    assert "data-flag-attachment" not in page and 'name="skip_reason"' in page
