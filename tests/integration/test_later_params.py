"""Parameters later clients send on the seed's types (scaleapi 0.1.10): transcription's
``repeatable_fields`` (the later name of ``row_fields``) and phonecall's ``choices``. Each is
stored, answered as sent, shown in the worker's form, checked in the answer and drawn on the
dashboard; parameters we do not support are still ignored. Both backends."""

from __future__ import annotations

import re

import pytest

from taskforce.clock import now_ms
from tests.factories import VALID_PARAMS
from tests.integration.test_dashboard import complete_test_task, signed_in
from tests.integration.test_worker_pages import LEASE, open_next, row, sign_in

ROWS = {"username": "Username of submitter", "comment_count": "Number of comments"}
CHOICES = ["reached", "voicemail", "wrong <number>"]


def transcription_body(**extra):
    body = {k: v for k, v in VALID_PARAMS["transcription"].items() if k != "row_fields"}
    return {**body, "repeatable_fields": ROWS, **extra}


def test_repeatable_fields_is_answered_as_sent(client, factory):
    customer = factory.customer()
    r = client.post("/v1/task/transcription", json=transcription_body(verbatim=True), auth=customer.live_auth)
    assert r.status_code == 200, r.text
    task = r.json()
    assert task["params"]["repeatable_fields"] == ROWS and "row_fields" not in task["params"]
    assert "verbatim" not in task["params"]  # unsupported: ignored, as before
    assert client.get(f"/v1/task/{task['task_id']}", auth=customer.live_auth).json()["params"] == task["params"]
    # As a url-encoded form (curl -d), with the seed's name: that name comes back.
    r = client.post("/v1/task/transcription", auth=customer.live_auth, data={
        "callback_url": "http://www.example.com/cb", "instruction": "Copy", "attachment_type": "text",
        "attachment": "x", "fields[title]": "Title", "repeatable_fields[user]": "User"})
    assert r.status_code == 200, r.text
    assert r.json()["params"] == {"attachment_type": "text", "attachment": "x", "fields": {"title": "Title"},
                                  "repeatable_fields": {"user": "User"}}
    seed = client.post("/v1/task/transcription", json=VALID_PARAMS["transcription"], auth=customer.live_auth).json()
    assert "row_fields" in seed["params"] and "repeatable_fields" not in seed["params"]


def test_both_names_at_once_are_refused(client, factory):
    from jsonschema import Draft202012Validator

    customer = factory.customer()
    schema = client.get("/openapi.json").json()["paths"]["/v1/task/transcription"]["post"][
        "requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator(schema)
    assert validator.is_valid(transcription_body()) and validator.is_valid(VALID_PARAMS["transcription"])
    assert not validator.is_valid(transcription_body(row_fields=ROWS))
    r = client.post("/v1/task/transcription", json=transcription_body(row_fields=ROWS), auth=customer.live_auth)
    assert r.status_code == 400
    assert r.json()["error"].startswith("repeatable_fields: ")
    r = client.post("/v1/task/transcription", json=transcription_body(repeatable_fields=["user"]),
                    auth=customer.live_auth)
    assert r.status_code == 400 and r.json()["error"] == "repeatable_fields: must be an object"


def test_phonecall_choices_are_stored_and_checked(client, factory):
    customer = factory.customer()
    r = client.post("/v1/task/phonecall", json={**VALID_PARAMS["phonecall"], "choices": CHOICES},
                    auth=customer.live_auth)
    assert r.status_code == 200, r.text
    assert r.json()["params"]["choices"] == CHOICES
    # Repeated form keys, as curl -d choices=a -d choices=b sends them.
    form = {k: v for k, v in VALID_PARAMS["phonecall"].items() if k != "fields"}
    r = client.post("/v1/task/phonecall", data={**form, "choices": ["yes", "no"]}, auth=customer.live_auth)
    assert r.status_code == 200 and r.json()["params"]["choices"] == ["yes", "no"]
    from jsonschema import Draft202012Validator

    schema = client.get("/openapi.json").json()["paths"]["/v1/task/phonecall"]["post"][
        "requestBody"]["content"]["application/json"]["schema"]
    assert Draft202012Validator(schema).is_valid({**VALID_PARAMS["phonecall"], "choices": CHOICES})
    for bad, message in ([[], "choices: must not be empty"], [["a", "a"], "choices: must not contain duplicates"]):
        assert not Draft202012Validator(schema).is_valid({**VALID_PARAMS["phonecall"], "choices": bad})
        r = client.post("/v1/task/phonecall", json={**VALID_PARAMS["phonecall"], "choices": bad},
                        auth=customer.live_auth)
        assert r.status_code == 400 and r.json()["error"] == message


def test_a_worker_picks_among_the_calls_choices(client, factory, db):
    customer = factory.customer()
    factory.task(customer, "phonecall", choices=CHOICES)
    token = sign_in(client, factory.user("worker"))
    task_id, page = open_next(client, token)
    # The choices by position, customer text only as (escaped) text; no standard outcomes.
    assert re.findall(r'name="outcome" value="([^"]*)"', page) == ["0", "1", "2"]
    assert "wrong &lt;number&gt;" in page and "No pickup" not in page
    lease = LEASE.search(page).group(1)
    for raw in ("success", "3", "-1", ""):
        r = client.post(f"/work/task/{task_id}", data={"csrf_token": token, "lease": lease,
                                                       "outcome": raw, "field-0": "kept"})
        assert r.status_code == 400 and "outcome" in r.text, raw
        assert 'value="kept"' in r.text
    assert row(db, task_id)["status"] == "pending"
    r = client.post(f"/work/task/{task_id}", data={"csrf_token": token, "lease": lease,
                                                   "outcome": "2", "field-0": ""}, follow_redirects=False)
    assert r.status_code == 303
    assert row(db, task_id)["response"] == {"outcome": "wrong <number>", "fields": {"email": ""}}


def test_a_worker_fills_repeatable_rows(client, factory, db):
    customer = factory.customer()
    factory.task(customer, "transcription", row_fields=None, repeatable_fields=ROWS)
    token = sign_in(client, factory.user("worker"))
    task_id, page = open_next(client, token)
    assert "data-row-table" in page and "Username of submitter" in page
    r = client.post(f"/work/task/{task_id}", data={
        "csrf_token": token, "lease": LEASE.search(page).group(1), "field-0": "Reddit", "field-1": "Cats",
        "row-0-0": "kn0thing", "row-0-1": "12"}, follow_redirects=False)
    assert r.status_code == 303
    assert row(db, task_id)["response"] == {"fields": {"title": "Reddit", "top_result": "Cats"},
                                            "rows": [{"username": "kn0thing", "comment_count": "12"}]}


@pytest.fixture
def customer_client(app, factory):
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    return customer, signed_in(app, user["email"])


def test_the_dashboard_draws_both(customer_client, factory, db):
    customer, browser = customer_client
    call = factory.task(customer, "phonecall", is_test=True, choices=CHOICES)
    complete_test_task(db, call, {"outcome": "voicemail", "fields": {"email": ""}}, now=now_ms())
    page = browser.get(f"/dashboard/tasks/{call['id']}").text
    assert re.search(r'<li class="chosen">voicemail <span class="tick"', page)
    assert '<li class="">wrong &lt;number&gt;</li>' in page
    tr = factory.task(customer, "transcription", is_test=True, row_fields=None, repeatable_fields=ROWS)
    complete_test_task(db, tr, {"fields": {"title": "T", "top_result": "R"},
                                "rows": [{"username": "ann", "comment_count": "3"}]}, now=now_ms())
    page = browser.get(f"/dashboard/tasks/{tr['id']}").text
    assert "<h3>Rows</h3>" in page and "<td>ann</td><td>3</td>" in page
