"""Redundancy and combining (issue 10), both backends: overlap, dynamic overlap, review, the
task object's ``quality`` and the callback owed once when the answer is final."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from taskforce.errors import Conflict, InvalidParameter
from taskforce.models import assignments, deliveries, tasks
from taskforce.tasks import service
from tests.factories import VALID_PARAMS

LEASE = 600
T0 = 1_800_000_000_000


def answer_by(db, worker, response, now):
    with db.write() as conn:
        lease = service.claim(conn, worker["id"], lease_seconds=LEASE, now=now)
        assert lease is not None, "the task should still need this worker"
        return service.complete(conn, lease.task_id, response, worker_id=worker["id"],
                                lease_token=lease.token, now=now + 500)


def callbacks(db, task_id):
    with db.read() as conn:
        return [json.loads(r.body) for r in conn.execute(
            select(deliveries.c.body).where(deliveries.c.task_id == task_id))]


def row_of(db, task_id):
    with db.read() as conn:
        return conn.execute(select(tasks).where(tasks.c.id == task_id)).mappings().one()


@pytest.mark.parametrize("changes, param", [
    ({"overlap": 0}, "overlap"), ({"overlap": 10}, "overlap"), ({"overlap": "two"}, "overlap"),
    ({"overlap": 1.5}, "overlap"), ({"overlap": True}, "overlap"),
    ({"max_overlap": 2, "overlap": 3, "min_confidence": 0.9}, "max_overlap"),
    ({"max_overlap": 12, "min_confidence": 0.9}, "max_overlap"),
    ({"max_overlap": 4}, "min_confidence"),
    ({"min_confidence": 1.01}, "min_confidence"), ({"min_confidence": -0.1}, "min_confidence"),
    ({"min_confidence": "high"}, "min_confidence"), ({"min_confidence": [0.5]}, "min_confidence"),
])
def test_bad_redundancy_parameters_are_a_400_naming_them(client, factory, changes, param):
    customer = factory.customer()
    r = client.post("/v1/task/categorize", json={**VALID_PARAMS["categorization"], **changes},
                    auth=customer.live_auth)
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith(param), r.json()
    assert client.get("/v1/tasks", auth=customer.live_auth).json()["total"] == 0


def test_redundancy_parameters_from_json_and_form_bodies_are_stored_on_the_task(client, factory, db):
    customer = factory.customer()
    r = client.post("/v1/task/categorize", auth=customer.live_auth,
                    json={**VALID_PARAMS["categorization"], "overlap": 2, "max_overlap": 4,
                          "min_confidence": 0.9})
    assert r.status_code == 200, r.text
    assert "overlap" not in r.json()["params"] and "quality" not in r.json()
    row = row_of(db, r.json()["task_id"])
    assert (row["answers_needed"], row["max_answers"], row["min_confidence"]) == (2, 4, 0.9)
    form = {**VALID_PARAMS["categorization"], "overlap": "3", "min_confidence": "0.5"}
    form.pop("categories")
    r = client.post("/v1/task/categorize", auth=customer.live_auth,
                    data={**form, "categories[0]": "a", "categories[1]": "b"})
    assert r.status_code == 200, r.text
    row = row_of(db, r.json()["task_id"])
    assert (row["answers_needed"], row["max_answers"], row["min_confidence"]) == (3, None, 0.5)


def test_overlap_3_collects_three_workers_and_calls_back_once_with_quality(db, factory):
    task = factory.task(factory.customer(), overlap=3)
    workers = [factory.user("worker") for _ in range(4)]
    for i, (worker, category) in enumerate(zip(workers, ["public", "private", "public"], strict=False)):
        done = answer_by(db, worker, {"category": category}, T0 + i * 1000)
        assert done["status"] == ("completed" if i == 2 else "pending")
        assert callbacks(db, task["id"]) == ([] if i < 2 else callbacks(db, task["id"]))
    with db.write() as conn:  # a fourth worker finds nothing to do
        assert service.claim(conn, workers[3]["id"], lease_seconds=LEASE, now=T0 + 9000) is None
    sent = callbacks(db, task["id"])
    assert len(sent) == 1
    body = sent[0]
    assert body["response"] == {"category": "public"}
    quality = body["task"]["quality"]
    assert quality["answers"] == 3 and quality["method"] == "majority"
    assert quality["agreement"] == {"category": pytest.approx(2 / 3, abs=1e-3)}
    assert 0.5 < quality["confidence"] < 1
    assert "weights" not in quality
    with db.read() as conn:
        who = conn.execute(select(assignments.c.worker_id).where(
            assignments.c.task_id == task["id"], assignments.c.outcome == "submitted")).scalars().all()
    assert sorted(who) == sorted(w["id"] for w in workers[:3])


def test_one_answer_tasks_have_no_quality(db, factory):
    task = factory.task(factory.customer())
    done = answer_by(db, factory.user("worker"), {"category": "public"}, T0)
    assert done["status"] == "completed" and done["quality"] is None
    assert "quality" not in callbacks(db, task["id"])[0]["task"]


def test_dynamic_overlap_adds_a_worker_until_confident(db, factory):
    # Unknown workers (accuracy 0.7 a priori) on two categories: 1:1 is 0.5, 2:1 is 0.7, 3:1 is 0.84.
    task = factory.task(factory.customer(), overlap=2, max_overlap=5, min_confidence=0.8)
    a, b, c, d, e = (factory.user("worker") for _ in range(5))
    answer_by(db, a, {"category": "public"}, T0)
    second = answer_by(db, b, {"category": "private"}, T0 + 1000)
    assert second["status"] == "pending" and row_of(db, task["id"])["answers_needed"] == 3
    assert second["quality"]["answers"] == 2 and second["quality"]["confidence"] == 0.5
    third = answer_by(db, c, {"category": "public"}, T0 + 2000)
    assert third["status"] == "pending" and row_of(db, task["id"])["answers_needed"] == 4
    assert callbacks(db, task["id"]) == []
    done = answer_by(db, d, {"category": "public"}, T0 + 3000)
    assert done["status"] == "completed" and done["response"] == {"category": "public"}
    assert done["quality"]["answers"] == 4 and done["quality"]["confidence"] >= 0.8
    assert row_of(db, task["id"])["answers_needed"] == 4
    with db.write() as conn:
        assert service.claim(conn, e["id"], lease_seconds=LEASE, now=T0 + 9000) is None
    assert len(callbacks(db, task["id"])) == 1


def test_below_confidence_at_max_overlap_goes_to_review_then_an_operator_decides(db, factory):
    customer = factory.customer()
    task = factory.task(customer, overlap=2, max_overlap=2, min_confidence=0.99)
    a, b, c = (factory.user("worker") for _ in range(3))
    answer_by(db, a, {"category": "public"}, T0)
    waiting = answer_by(db, b, {"category": "private"}, T0 + 1000)
    row = row_of(db, task["id"])
    assert waiting["status"] == "pending" and row["review_state"] == "needed"
    assert (row["answers_submitted"], row["answers_needed"], row["leases_open"]) == (2, 2, 0)
    assert callbacks(db, task["id"]) == []
    with db.write() as conn:  # out of the queue
        assert service.claim(conn, c["id"], lease_seconds=LEASE, now=T0 + 5000) is None
    operator = factory.user("operator")
    with db.write() as conn, pytest.raises(InvalidParameter):
        service.finish_review(conn, task["id"], {"category": "neither"}, operator["id"], now=T0 + 6000)
    with db.write() as conn:
        done = service.finish_review(conn, task["id"], {"category": "private"}, operator["id"], now=T0 + 7000)
    assert done["status"] == "completed" and done["response"] == {"category": "private"}
    sent = callbacks(db, task["id"])
    assert len(sent) == 1 and sent[0]["task"]["quality"]["method"] == "review"
    assert row_of(db, task["id"])["reviewed_by"] == operator["id"]
    with db.write() as conn, pytest.raises(Conflict):
        service.finish_review(conn, task["id"], {"category": "public"}, operator["id"], now=T0 + 8000)
    assert len(callbacks(db, task["id"])) == 1


def test_answers_that_all_disagree_go_to_review_without_dynamic_overlap(db, factory):
    task = factory.task(factory.customer(), overlap=2, categories=["a", "b", "c"])
    answer_by(db, factory.user("worker"), {"category": "a"}, T0)
    answer_by(db, factory.user("worker"), {"category": "b"}, T0 + 1000)
    assert row_of(db, task["id"])["review_state"] == "needed"
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0


def test_a_finished_review_cannot_be_forged_on_a_task_not_in_review(db, factory):
    task = factory.task(factory.customer(), overlap=2)
    with db.write() as conn, pytest.raises(Conflict):
        service.finish_review(conn, task["id"], {"category": "public"}, None, now=T0)


def test_answers_endpoint_lists_pseudonymous_workers_times_and_weights(client, factory, db):
    customer, other = factory.customer(), factory.customer()
    r = client.post("/v1/task/categorize", auth=customer.live_auth,
                    json={**VALID_PARAMS["categorization"], "overlap": 2})
    task_id = r.json()["task_id"]
    a, b = factory.user("worker"), factory.user("worker")
    answer_by(db, a, {"category": "public"}, T0)
    assert len(client.get(f"/v1/task/{task_id}/answers", auth=customer.live_auth).json()["answers"]) == 1
    answer_by(db, b, {"category": "public"}, T0 + 1000)
    got = client.get(f"/v1/task/{task_id}/answers", auth=customer.live_auth)
    assert got.status_code == 200, got.text
    listed = got.json()["answers"]
    assert [x["response"] for x in listed] == [{"category": "public"}] * 2
    assert [x["duration_ms"] for x in listed] == [500, 500]
    assert [x["weight"] for x in listed] == [1.0, 1.0]
    assert all(x["submitted_at"].endswith("Z") or "+" in x["submitted_at"] for x in listed)
    refs = [x["worker"] for x in listed]
    assert len(set(refs)) == 2 and all(ref.startswith("w_") and len(ref) == 22 for ref in refs)
    from taskforce.api.answers_api import worker_ref

    # Another customer sees the same worker under another name.
    assert worker_ref("test-secret", other.id, a["id"], None) not in refs
    again = client.get(f"/v1/task/{task_id}/answers", auth=customer.live_auth).json()["answers"]
    assert [x["worker"] for x in again] == refs  # stable
    # Only the task's own customer, in its own mode.
    assert client.get(f"/v1/task/{task_id}/answers", auth=other.live_auth).status_code == 404
    assert client.get(f"/v1/task/{task_id}/answers", auth=customer.test_auth).status_code == 404
    assert client.get(f"/v1/task/{task_id}/answers").status_code == 401
    assert client.get("/v1/task/zzz/answers", auth=customer.live_auth).status_code == 404
    assert "/v1/task/{task_id}/answers" in client.get("/openapi.json").json()["paths"]


def test_the_simulated_crowd_answers_an_overlap_task_with_distinct_workers(db, factory):
    from taskforce.tasks import simulator

    customer = factory.customer()
    made = [factory.task(customer, is_test=True, now=T0, overlap=3, categories=["a", "b", "c"])
            for _ in range(20)]
    dynamic = factory.task(customer, is_test=True, now=T0, overlap=2, max_overlap=9, min_confidence=0.95)
    with db.write() as conn:
        simulator.complete_due(conn, now=T0 + 5000, delay_ms=1000)
    methods = set()
    for task in [*made, dynamic]:
        row = row_of(db, task["id"])
        with db.read() as conn:
            who = conn.execute(select(assignments.c.simulated_worker).where(
                assignments.c.task_id == task["id"], assignments.c.outcome == "submitted")).scalars().all()
        assert len(who) == len(set(who)) == row["answers_submitted"]
        assert row["quality"]["answers"] == row["answers_submitted"]
        methods.add(row["quality"]["method"])
        if row["review_state"] is None:
            assert row["status"] == "completed" and len(callbacks(db, task["id"])) == 1
        else:
            assert row["status"] == "pending" and callbacks(db, task["id"]) == []
        if task is not dynamic:
            assert row["answers_submitted"] == 3
    assert row_of(db, dynamic["id"])["answers_submitted"] >= 3  # 2 answers never reach 0.95
    assert methods == {"majority"}
    # Run again: nothing is answered twice, tasks in review stay there.
    with db.write() as conn:
        assert simulator.complete_due(conn, now=T0 + 9000, delay_ms=1000) == []


def test_a_project_default_overlap_applies_and_the_task_may_override_it(client, factory, db):
    customer = factory.customer()
    r = client.post("/v1/projects", auth=customer.live_auth,
                    json={"type": "categorization", "name": "triple", "params": {"overlap": 3}})
    assert r.status_code == 200, r.text
    made = client.post("/v1/task/categorize", auth=customer.live_auth,
                       json={**VALID_PARAMS["categorization"], "project": "triple"})
    assert made.status_code == 200, made.text
    assert row_of(db, made.json()["task_id"])["answers_needed"] == 3
    own = client.post("/v1/task/categorize", auth=customer.live_auth,
                      json={**VALID_PARAMS["categorization"], "project": "triple", "overlap": 2})
    assert row_of(db, own.json()["task_id"])["answers_needed"] == 2
    bad = client.post("/v1/task/categorize", auth=customer.live_auth,
                      json={**VALID_PARAMS["categorization"], "project": "triple", "max_overlap": 2,
                            "min_confidence": 0.5})
    assert bad.status_code == 400 and bad.json()["error"].startswith("max_overlap")
