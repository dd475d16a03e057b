"""Gold tasks (both backends): created and listed through /v1/evaluation_tasks, kept out of the
customer's task list; mixed into a worker's claims at the set rate, each at most once per worker;
scored, never completed, never sent to a callback; the gold rules pause a worker from real tasks
(gold still served) until they recover or an operator reinstates them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from taskforce.models import assignments, deliveries, tasks, users
from taskforce.quality import gold
from taskforce.task_types import REGISTRY
from tests.factories import VALID_PARAMS

LEASE = 600
T0 = 1_800_000_000_000


def make_gold(db, customer, category="public", now=T0, **overrides):
    task_type = REGISTRY.get("categorization")
    params = task_type.parse({**VALID_PARAMS["categorization"], **overrides})
    with db.write() as conn:
        return gold.create(conn, customer_id=customer.id, is_test=False, task_type=task_type,
                           params=params, expected={"category": category}, now=now)


def claim(db, worker, rate, now=T0):
    from taskforce.tasks import service
    with db.write() as conn:
        return service.claim(conn, worker["id"], lease_seconds=LEASE, now=now, gold_rate=rate)


def answer(db, lease, worker, category, now=T0 + 1000):
    from taskforce.tasks import service
    with db.write() as conn:
        return service.complete(conn, lease.task_id, {"category": category}, worker_id=worker["id"],
                                lease_token=lease.token, now=now)


def is_gold(db, task_id):
    with db.read() as conn:
        return conn.execute(select(tasks.c.gold).where(tasks.c.id == task_id)).scalar_one()


def paused(db, worker):
    with db.read() as conn:
        return conn.execute(select(users.c.gold_paused).where(users.c.id == worker["id"])).scalar_one()


def test_api_creates_and_lists_evaluation_tasks_apart_from_tasks(client, factory):
    customer = factory.customer()
    body = {**VALID_PARAMS["categorization"], "expected_response": {"category": "private"}}
    created = client.post("/v1/evaluation_tasks/categorization", json=body, auth=customer.live_auth)
    assert created.status_code == 200, created.text
    gold_task = created.json()
    assert gold_task["expected_response"] == {"category": "private"}
    assert gold_task["type"] == "categorization" and gold_task["status"] == "pending"
    factory.task(customer)  # one real task

    listed = client.get("/v1/evaluation_tasks", auth=customer.live_auth).json()
    assert [d["task_id"] for d in listed["docs"]] == [gold_task["task_id"]]
    assert listed["total"] == 1
    # The customer's task list and its total leave gold out.
    real = client.get("/v1/tasks", auth=customer.live_auth).json()
    assert gold_task["task_id"] not in [d["task_id"] for d in real["docs"]]
    assert real["total"] == 1 and len(real["docs"]) == 1
    assert client.get("/v1/tasks?status=pending&type=categorization", auth=customer.live_auth).json()["total"] == 1
    # Another customer and the test key see none of it.
    assert client.get("/v1/evaluation_tasks", auth=customer.test_auth).json()["total"] == 0
    other = factory.customer()
    assert client.get("/v1/evaluation_tasks", auth=other.live_auth).json()["docs"] == []


@pytest.mark.parametrize("encoded", [
    "expected_response%5Bcategory%5D=private",  # brackets, as curl and qs write objects
    "expected_response=%7B%22category%22%3A%22private%22%7D",  # the object's JSON as one value
])
def test_a_form_encoded_evaluation_task_carries_its_expected_response(client, factory, encoded):
    """/openapi.json documents the form body with the JSON one's schema, expected_response
    included; the form decoder used to know only the type's own parameters and dropped it
    (every form-encoded evaluation task was a 400 "expected_response is required")."""
    customer = factory.customer()
    form = ("callback_url=http%3A%2F%2Fwww.example.com%2Fcb&instruction=Public%3F&attachment_type=text"
            "&attachment=Acme&categories=public&categories=private&" + encoded)
    created = client.post("/v1/evaluation_tasks/categorization", content=form, auth=customer.live_auth,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert created.status_code == 200, created.text
    assert created.json()["expected_response"] == {"category": "private"}


def test_a_form_encoded_transcription_evaluation_task_keeps_its_rows(client, factory):
    customer = factory.customer()
    form = ("callback_url=http%3A%2F%2Fwww.example.com%2Fcb&instruction=Copy&attachment_type=website"
            "&attachment=http%3A%2F%2Fwww.example.com%2F&fields%5Btitle%5D=Title"
            "&row_fields%5Busername%5D=User&expected_response%5Bfields%5D%5Btitle%5D=Hello"
            "&expected_response%5Brows%5D%5B0%5D%5Busername%5D=ann"
            "&expected_response%5Brows%5D%5B1%5D%5Busername%5D=bob")
    created = client.post("/v1/evaluation_tasks/transcription", content=form, auth=customer.live_auth,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert created.status_code == 200, created.text
    expected = created.json()["expected_response"]
    assert expected["fields"] == {"title": "Hello"}
    assert [row["username"] for row in expected["rows"]] == ["ann", "bob"]


@pytest.mark.parametrize("body_extra, param", [
    ({}, "expected_response"),
    ({"expected_response": {"category": "neither"}}, "expected_response"),
    ({"expected_response": "public"}, "expected_response"),
    ({"expected_response": {"category": "public"}, "categories": []}, "categories"),
])
def test_api_refuses_bad_evaluation_tasks_naming_the_parameter(client, factory, body_extra, param):
    customer = factory.customer()
    body = {**VALID_PARAMS["categorization"], **body_extra}
    response = client.post("/v1/evaluation_tasks/categorization", json=body, auth=customer.live_auth)
    assert response.status_code == 400, response.text
    assert param in response.json()["error"]
    assert client.get("/v1/evaluation_tasks", auth=customer.live_auth).json()["total"] == 0


def test_api_unknown_type_and_annotation_types(client, factory):
    customer = factory.customer()
    r = client.post("/v1/evaluation_tasks/nope", json={}, auth=customer.live_auth)
    assert r.status_code == 404 and "annotation" in r.json()["error"]  # the types named take gold
    assert client.post("/v1/evaluation_tasks/categorization", json={}).status_code == 401
    # Annotation types take gold too (tests/integration/test_annotation_gold.py has the rest).
    annotation = client.post("/v1/evaluation_tasks/annotation", json={
        "callback_url": "http://www.example.com/cb", "instruction": "Box the cars",
        "attachment": "http://www.example.com/a.png", "objects_to_annotate": ["car"],
        "expected_response": {"annotations": []}}, auth=customer.live_auth)
    assert annotation.status_code == 200, annotation.text


def test_gold_is_mixed_in_at_the_rate_each_once_per_worker(db, factory):
    customer = factory.customer()
    golds = {make_gold(db, customer)["id"] for _ in range(2)}
    real = {factory.task(customer, now=T0)["id"] for _ in range(4)}
    worker = factory.user("worker")
    handed = []
    for i in range(6):
        lease = claim(db, worker, rate=0.5, now=T0 + i)
        handed.append(lease.task_id)
        answer(db, lease, worker, "public", now=T0 + i)
    # Claims 0, 2 are gold's turns; on claim 4 no unseen gold is left, so a real task comes.
    assert [t in golds for t in handed] == [True, False, True, False, False, False]
    assert set(handed) == golds | real
    assert claim(db, worker, rate=0.5, now=T0 + 10) is None
    # Rate 0: no gold at all.
    factory.task(customer, now=T0)
    other = factory.user("worker")
    assert not is_gold(db, claim(db, other, rate=0.0).task_id)


def test_a_gold_answer_is_scored_never_completed_never_called_back(db, factory):
    customer = factory.customer()
    gold_task = make_gold(db, customer, category="private")
    ann, bob = factory.user("worker"), factory.user("worker")
    lease = claim(db, ann, rate=1.0)
    assert lease.task_id == gold_task["id"]
    task = answer(db, lease, ann, "private")
    assert task["status"] == "pending"
    lease = claim(db, bob, rate=1.0)
    assert lease.task_id == gold_task["id"]  # still there for the next worker
    answer(db, lease, bob, "public")
    with db.read() as conn:
        scored = dict(conn.execute(select(assignments.c.worker_id, assignments.c.gold_correct)
                                   .where(assignments.c.task_id == gold_task["id"])).all())
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0
        counts = gold.gold_counts(conn)
    assert scored == {ann["id"]: True, bob["id"]: False}
    assert counts[(ann["id"], "categorization")] == (1, 1)
    assert counts[(bob["id"], "categorization")] == (1, 0)


def test_rules_pause_a_worker_from_real_tasks_until_recovery_or_reinstatement(db, factory):
    customer = factory.customer()
    with db.write() as conn:
        gold.set_rules(conn, min_accuracy=0.6, min_answers=2)
    golds = [make_gold(db, customer, category="public") for _ in range(5)]
    real = factory.task(customer)
    worker = factory.user("worker")
    for i in range(2):  # two wrong gold answers: 0 of 2 < 0.6
        lease = claim(db, worker, rate=1.0, now=T0 + i)
        answer(db, lease, worker, "private", now=T0 + i)
    assert paused(db, worker)
    # Paused: at rate 0 (no gold turn) they still get only gold, never the real task.
    for i in range(2, 5):
        lease = claim(db, worker, rate=0.0, now=T0 + i)
        assert lease.task_id != real["id"] and is_gold(db, lease.task_id)
        answer(db, lease, worker, "public", now=T0 + i)
        # 1/3 and 2/4 are below 0.6; 3/5 recovers.
        assert paused(db, worker) is (i < 4)
    lease = claim(db, worker, rate=0.0, now=T0 + 10)
    assert lease.task_id == real["id"]
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(tasks)
                            .where(tasks.c.gold.is_(True), tasks.c.status == "pending")).scalar_one() == 5


def test_a_paused_worker_with_no_gold_left_gets_nothing_until_reinstated(db, factory):
    customer = factory.customer()
    with db.write() as conn:
        gold.set_rules(conn, min_accuracy=0.6, min_answers=1)
    make_gold(db, customer)
    real = factory.task(customer)
    worker = factory.user("worker")
    answer(db, claim(db, worker, rate=1.0), worker, "private")
    assert paused(db, worker)
    assert claim(db, worker, rate=1.0, now=T0 + 5) is None
    with db.write() as conn:
        gold.reinstate(conn, worker["id"])
    assert claim(db, worker, rate=1.0, now=T0 + 6).task_id == real["id"]


def test_rules_are_validated(db):
    with db.write() as conn:
        assert gold.rules(conn) == gold.Rules(0.6, 10)  # the safe defaults
        with pytest.raises(Exception, match="min_accuracy"):
            gold.set_rules(conn, min_accuracy=1.5, min_answers=3)
        with pytest.raises(Exception, match="min_answers"):
            gold.set_rules(conn, min_accuracy=0.5, min_answers=0)


def test_a_paused_workers_answers_count_for_less(db, factory, monkeypatch):
    from sqlalchemy import update as sql_update

    from taskforce.quality.combiners import combine_categorization
    from taskforce.tasks import service
    monkeypatch.setattr(service, "_combine_hook", lambda task_type, given: combine_categorization)
    customer = factory.customer()
    task = factory.task(customer)
    with db.write() as conn:
        conn.execute(sql_update(tasks).where(tasks.c.id == task["id"]).values(answers_needed=3))
    ann, bob, cat = (factory.user("worker") for _ in range(3))
    leases = {w["id"]: claim(db, w, rate=0.0) for w in (ann, bob, cat)}
    answer(db, leases[ann["id"]], ann, "private")
    answer(db, leases[bob["id"]], bob, "private")
    # Judged below the gold threshold since they answered: their answers now count for 0.25 each.
    with db.write() as conn:
        conn.execute(sql_update(users).where(users.c.id.in_([ann["id"], bob["id"]])).values(gold_paused=True))
    done = answer(db, leases[cat["id"]], cat, "public")
    assert done["status"] == "completed" and done["response"] == {"category": "public"}


def test_unpaused_workers_combine_as_before(db, factory, monkeypatch):
    from sqlalchemy import update as sql_update

    from taskforce.quality.combiners import combine_categorization
    from taskforce.tasks import service
    monkeypatch.setattr(service, "_combine_hook", lambda task_type, given: combine_categorization)
    task = factory.task(factory.customer())
    with db.write() as conn:
        conn.execute(sql_update(tasks).where(tasks.c.id == task["id"]).values(answers_needed=3))
    workers = [factory.user("worker") for _ in range(3)]
    leases = [claim(db, w, rate=0.0) for w in workers]
    for w, lease, category in zip(workers, leases, ("private", "private", "public")):
        done = answer(db, lease, w, category)
    assert done["response"] == {"category": "private"}


def test_paused_downweighting_wraps_a_skill_model():
    from taskforce.quality.skills import SkillModel
    model = SkillModel()
    wrapped = gold.PausedDownweighted(model, {7})
    assert wrapped.weight(7, "categorization") == pytest.approx(0.25 * model.weight(7, "categorization"))
    assert wrapped.weight(8, "categorization") == model.weight(8, "categorization")
    row = wrapped.likelihood(7, "categorization", ["a", "b"], 0)
    inner = model.likelihood(7, "categorization", ["a", "b"], 0)
    assert sum(row) == pytest.approx(sum(inner)) and abs(row[0] - row[1]) < abs(inner[0] - inner[1])
    assert wrapped.prior("categorization", ["a", "b"]) == model.prior("categorization", ["a", "b"])
    assert not hasattr(gold.PausedDownweighted(None, {7}), "prior")


def test_api_odd_inputs_are_4xx_never_500(client, factory):
    customer = factory.customer()
    auth = customer.live_auth
    url = "/v1/evaluation_tasks/categorization"
    cases = [
        client.post(url, content=b"{not json", headers={"Content-Type": "application/json"}, auth=auth),
        client.post(url, content=b"[1, 2]", headers={"Content-Type": "application/json"}, auth=auth),
        client.post(url, data={**VALID_PARAMS["categorization"], "categories": "public",
                               "expected_response": "public"}, auth=auth),
        client.post(url, json={**VALID_PARAMS["categorization"], "expected_response": {"category": ["public"]}}, auth=auth),
        client.post(url, json={**VALID_PARAMS["categorization"], "batch": "b1",
                               "expected_response": {"category": "public"}}, auth=auth),
        client.get("/v1/evaluation_tasks?limit=0", auth=auth),
        client.get("/v1/evaluation_tasks?offset=-1", auth=auth),
        client.get("/v1/evaluation_tasks?limit=abc", auth=auth),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]
    assert client.get("/v1/evaluation_tasks", auth=auth).json()["total"] == 0
