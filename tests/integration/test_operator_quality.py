"""The operator's quality pages through the ASGI app, on both backends: the Workers page's skill
figures, gold rules and reinstatement; making gold from a completed task; the Review queue's
accept, edit and send-back, each callback owed once."""

from __future__ import annotations

from sqlalchemy import func, select, update

from taskforce.models import deliveries, tasks, users
from taskforce.quality import gold, review
from tests.integration.test_gold import answer, claim, make_gold
from tests.integration.test_worker_pages import sign_in

T0 = 1_800_000_000_000


def waiting_for_review(db, factory, answers=("public", "private"), instruction="Pick one <b>now</b>",
                       customer=None):
    """A task whose workers disagree, sent to Review by the combining itself: as many answers as
    workers, no more allowed, and a confidence they cannot reach."""
    n = len(answers)
    task = factory.task(customer or factory.customer(), instruction=instruction, overlap=n, max_overlap=n,
                        min_confidence=0.99)
    workers = [factory.user("worker") for _ in answers]
    for worker, category in zip(workers, answers):
        lease = claim(db, worker, rate=0.0)
        assert lease.task_id == task["id"]
        answer(db, lease, worker, category)
    assert task_row(db, task["id"])["review_state"] == "needed"
    return task, workers


def callbacks_owed(db, task_id):
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(deliveries)
                            .where(deliveries.c.task_id == task_id)).scalar_one()


def task_row(db, task_id):
    with db.read() as conn:
        return conn.execute(select(tasks).where(tasks.c.id == task_id)).mappings().one()


def test_review_page_lists_answers_and_accepting_one_completes_once(client, factory, db):
    task, workers = waiting_for_review(db, factory)
    sign_in(client, workers[0])
    assert client.get("/operator/review").status_code == 403
    client.cookies.clear()
    token = sign_in(client, factory.user("operator"))
    page = client.get("/operator/review")
    assert page.status_code == 200
    assert f'data-review-task="{task["id"]}"' in page.text
    assert "Pick one &lt;b&gt;now&lt;/b&gt;" in page.text and "<b>now</b>" not in page.text
    for worker in workers:
        assert worker["email"] in page.text
    import re
    answer_ids = re.findall(r'data-answer="(\d+)"', page.text)
    assert len(answer_ids) == 2
    # Not handed to a worker while waiting.
    assert claim(db, factory.user("worker"), rate=0.0) is None

    r = client.post(f"/operator/review/{task['id']}/accept", data={"csrf_token": token, "answer": answer_ids[1]})
    assert "completed with the answer you accepted" in r.text
    row = task_row(db, task["id"])
    assert row["status"] == "completed" and row["response"] == {"category": "private"}
    assert row["review_state"] == "done"
    assert callbacks_owed(db, task["id"]) == 1
    again = client.post(f"/operator/review/{task['id']}/accept", data={"csrf_token": token, "answer": answer_ids[0]})
    assert "not waiting for review" in again.text
    assert callbacks_owed(db, task["id"]) == 1 and task_row(db, task["id"])["response"] == {"category": "private"}
    assert "Nothing is waiting for review" in client.get("/operator/review").text


def test_review_edit_validates_and_send_back_asks_for_one_more(client, factory, db):
    task, _ = waiting_for_review(db, factory)
    token = sign_in(client, factory.user("operator"))
    url = f"/operator/review/{task['id']}"
    for bad, says in (("{not json", "response: is not valid JSON"), ('["x"]', "response: must be a JSON object"),
                      ('{"category": "neither"}', "response:")):
        r = client.post(url + "/edit", data={"csrf_token": token, "response": bad})
        assert says in r.text, r.text
    assert client.post(url + "/accept", data={"csrf_token": token, "answer": "abc"}).text.count("choose one") == 1
    assert client.post(url + "/edit", data={"csrf_token": "stale", "response": "{}"}).status_code == 200
    assert task_row(db, task["id"])["status"] == "pending" and callbacks_owed(db, task["id"]) == 0

    r = client.post(url + "/more", data={"csrf_token": token})
    assert "one more answer" in r.text
    row = task_row(db, task["id"])
    assert row["review_state"] is None and row["answers_needed"] == 3
    third = factory.user("worker")
    assert claim(db, third, rate=0.0).task_id == task["id"]

    other, _ = waiting_for_review(db, factory)
    r = client.post(f"/operator/review/{other['id']}/edit", data={"csrf_token": token,
                                                                  "response": '{"category": "public"}'})
    assert "completed with your response" in r.text
    assert task_row(db, other["id"])["response"] == {"category": "public"}
    assert callbacks_owed(db, other["id"]) == 1


def test_workers_page_shows_gold_skill_rules_and_reinstates(client, factory, db):
    customer = factory.customer()
    for _ in range(2):
        make_gold(db, customer, category="public")
    worker = factory.user("worker")
    with db.write() as conn:
        gold.set_rules(conn, min_accuracy=0.6, min_answers=2)
    for i in range(2):
        answer(db, claim(db, worker, rate=1.0, now=T0 + i), worker, "private" if i else "public", now=T0 + i)
    token = sign_in(client, factory.user("operator"))
    page = client.get("/operator/workers").text
    assert "gold 1/2 (50%, 95% CI" in page
    assert "data-paused" in page and "low gold accuracy (categorization)" in page

    r = client.post("/operator/workers/rules", data={"csrf_token": token, "min_accuracy": "40", "min_answers": "2"})
    assert "below 40% on gold after 2" in r.text
    with db.read() as conn:
        assert gold.rules(conn) == gold.Rules(0.4, 2)
    for bad in ({"min_accuracy": "x", "min_answers": "2"}, {"min_accuracy": "140", "min_answers": "2"},
                {"min_accuracy": "50", "min_answers": "0"}):
        r = client.post("/operator/workers/rules", data={"csrf_token": token, **bad})
        assert "min_" in r.text
    with db.read() as conn:
        assert gold.rules(conn) == gold.Rules(0.4, 2)

    r = client.post(f"/operator/workers/{worker['id']}/reinstate", data={"csrf_token": token})
    assert "gets real tasks again" in r.text
    with db.read() as conn:
        assert conn.execute(select(users.c.gold_paused).where(users.c.id == worker["id"])).scalar_one() is False


def test_operator_turns_a_completed_task_into_gold(client, factory, db):
    customer = factory.customer()
    task = factory.task(customer)
    worker = factory.user("worker")
    lease = claim(db, worker, rate=0.0)
    answer(db, lease, worker, "private")
    pending = factory.task(customer)
    token = sign_in(client, factory.user("operator"))
    r = client.post("/operator/gold", data={"csrf_token": token, "task_id": task["id"]})
    assert "Gold task" in r.text
    with db.read() as conn:
        made = conn.execute(select(tasks).where(tasks.c.gold.is_(True))).mappings().one()
    assert made["expected_response"] == {"category": "private"} and made["params"] == task["params"]
    r = client.post("/operator/gold", data={"csrf_token": token, "task_id": pending["id"]})
    assert "only a completed task can become gold" in r.text
    r = client.post("/operator/gold", data={"csrf_token": token, "task_id": "nope"})
    assert "no task" in r.text


def test_canceling_a_task_in_review_ends_its_review(client, factory, db):
    customer = factory.customer()
    task, _ = waiting_for_review(db, factory, customer=customer)
    kept, _ = waiting_for_review(db, factory, customer=customer)
    r = client.post(f"/v1/task/{task['id']}/cancel", auth=customer.live_auth)
    assert r.status_code == 200 and r.json()["status"] == "canceled", r.text
    row = task_row(db, task["id"])
    assert row["status"] == "canceled" and row["review_state"] is None
    token = sign_in(client, factory.user("operator"))
    page = client.get("/operator/review").text
    assert f'data-review-task="{task["id"]}"' not in page and f'data-review-task="{kept["id"]}"' in page
    with db.read() as conn:
        waiting = [t["id"] for t in review.queue(conn)]
        in_review = conn.execute(select(func.count()).select_from(tasks)
                                 .where(tasks.c.review_state == review.NEEDED)).scalar_one()
    assert waiting == [kept["id"]] and in_review == 1
    # Deciding it is refused; no callback is owed for it.
    r = client.post(f"/operator/review/{task['id']}/edit", data={"csrf_token": token,
                                                                 "response": '{"category": "public"}'})
    assert "not waiting for review" in r.text
    assert task_row(db, task["id"])["status"] == "canceled" and callbacks_owed(db, task["id"]) == 0
