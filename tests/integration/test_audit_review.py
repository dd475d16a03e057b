"""A customer's rejected audit reaches the operators' Review queue, on both backends: the page
shows the rejected response and the customer's reason; the operator corrects it (the audit
becomes fixed, the corrected task goes out in a new callback, once) or keeps it (no callback);
accepting the task meanwhile takes it out again, and a new rejection brings it back."""

from __future__ import annotations

import json

import jsonschema
from sqlalchemy import select

from taskforce.api.openapi import TASK_SCHEMA

from taskforce.models import deliveries, tasks
from taskforce.quality import review
from tests.integration.test_gold import answer, claim
from tests.integration.test_worker_pages import sign_in

REASON = 'It is <b>public</b>: listed on NASDAQ'


def completed(db, factory, customer, category="private"):
    task = factory.task(customer)
    worker = factory.user("worker")
    lease = claim(db, worker, rate=0.0)
    assert lease.task_id == task["id"]
    answer(db, lease, worker, category)
    return task


def bodies(db, task_id):
    with db.read() as conn:
        return [json.loads(b) for b in conn.execute(
            select(deliveries.c.body).where(deliveries.c.task_id == task_id).order_by(deliveries.c.id)).scalars()]


def state(db, task_id):
    with db.read() as conn:
        return conn.execute(select(tasks.c.review_state, tasks.c.customer_review_status, tasks.c.response)
                            .where(tasks.c.id == task_id)).one()


def audit(client, customer, task_id, accepted, comments=None):
    r = client.post(f"/v1/task/{task_id}/audit", json={"accepted": accepted, "comments": comments},
                    auth=customer.live_auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_rejected_answer_is_corrected_in_review_and_goes_out_once(client, factory, db):
    customer = factory.customer()
    task = completed(db, factory, customer)
    assert len(bodies(db, task["id"])) == 1
    audit(client, customer, task["id"], False, REASON)
    assert state(db, task["id"]).review_state == review.AUDIT
    # Still filterable as the customer's rejection.
    listed = client.get("/v1/tasks?customer_review_status=rejected", auth=customer.live_auth).json()
    assert [d["task_id"] for d in listed["docs"]] == [task["id"]]

    token = sign_in(client, factory.user("operator"))
    page = client.get("/operator/review").text
    assert f'data-rejected-task="{task["id"]}"' in page and "data-review-empty" not in page
    assert "It is &lt;b&gt;public&lt;/b&gt;: listed on NASDAQ" in page and "<b>public</b>" not in page
    assert "&#34;category&#34;: &#34;private&#34;" in page  # the rejected response, to correct
    url = f"/operator/review/{task['id']}"
    for bad, says in (("{not json", "response: is not valid JSON"), ('{"category": "neither"}', "response:")):
        assert says in client.post(url + "/fix", data={"csrf_token": token, "response": bad}).text
    assert state(db, task["id"]).review_state == review.AUDIT and len(bodies(db, task["id"])) == 1
    # Not the pending-task actions: accepting an answer is for tasks whose answers disagree.
    assert "not waiting for review" in client.post(url + "/edit", data={
        "csrf_token": token, "response": '{"category": "public"}'}).text

    r = client.post(url + "/fix", data={"csrf_token": token, "response": '{"category": "public"}'})
    assert "a new callback is on its way" in r.text
    row = state(db, task["id"])
    assert (row.review_state, row.customer_review_status, row.response) == ("done", "fixed", {"category": "public"})
    sent = bodies(db, task["id"])
    assert len(sent) == 2
    assert sent[1]["response"] == {"category": "public"}
    assert sent[1]["task"]["customer_review_status"] == "fixed"
    assert sent[1]["task"]["quality"]["method"] == "review"
    assert sent[0]["response"] == {"category": "private"}  # the first callback is as it was
    fetched = client.get(f"/v1/task/{task['id']}", auth=customer.live_auth).json()
    assert fetched["response"] == {"category": "public"} and fetched["customer_review_status"] == "fixed"
    # What /openapi.json promises of a task (the audit state `fixed`, the quality object).
    jsonschema.validate(fetched, TASK_SCHEMA)
    jsonschema.validate(sent[1]["task"], TASK_SCHEMA)
    # Once: a second correction (a double submit) is refused and owes nothing.
    again = client.post(url + "/fix", data={"csrf_token": token, "response": '{"category": "private"}'})
    assert "not waiting for review" in again.text
    assert len(bodies(db, task["id"])) == 2 and state(db, task["id"]).response == {"category": "public"}
    assert "data-review-empty" in client.get("/operator/review").text

    # Rejected again: back in Review.
    audit(client, customer, task["id"], False, "Still wrong")
    assert f'data-rejected-task="{task["id"]}"' in client.get("/operator/review").text


def test_keeping_a_rejected_answer_and_an_acceptance_meanwhile(client, factory, db):
    customer = factory.customer()
    kept, accepted = completed(db, factory, customer), completed(db, factory, customer)
    for task in (kept, accepted):
        audit(client, customer, task["id"], False)
    token = sign_in(client, factory.user("operator"))
    page = client.get("/operator/review").text
    assert page.count("data-rejected-task=") == 2 and "No comment given." in page

    # The customer changes their mind before an operator looked: out of Review, as it was.
    audit(client, customer, accepted["id"], True)
    assert tuple(state(db, accepted["id"])[:2]) == (None, "accepted")

    r = client.post(f"/operator/review/{kept['id']}/keep", data={"csrf_token": token})
    assert "keeps its response" in r.text
    row = state(db, kept["id"])
    assert (row.review_state, row.customer_review_status, row.response) == ("done", "rejected", {"category": "private"})
    assert len(bodies(db, kept["id"])) == 1 and len(bodies(db, accepted["id"])) == 1
    assert "data-review-empty" in client.get("/operator/review").text
    assert "not waiting for review" in client.post(f"/operator/review/{kept['id']}/keep",
                                                   data={"csrf_token": token}).text
    # Accepting a task an operator already decided leaves it decided.
    audit(client, customer, kept["id"], True)
    assert tuple(state(db, kept["id"])[:2]) == ("done", "accepted")
