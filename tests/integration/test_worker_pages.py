"""The worker's pages through the ASGI app on both backends: claim, answer each type, refused
answers re-rendered with nothing stored, skip, lost leases, deactivation, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from taskforce import accounts
from taskforce.models import assignments, deliveries, tasks
from taskforce.tasks import service
from tests.factories import PASSWORD

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LEASE = re.compile(r'name="lease" value="([^"]+)"')


def csrf(page_html: str) -> str:
    return CSRF.search(page_html).group(1)


def sign_in(client, user) -> str:
    token = csrf(client.get("/login").text)
    r = client.post("/login", data={"csrf_token": token, "email": user["email"], "password": PASSWORD},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return csrf(client.get("/login").text)  # the session's new token


def start(client, token):
    return client.post("/work/next", data={"csrf_token": token}, follow_redirects=False)


def open_next(client, token):
    r = start(client, token)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/work/task/"), location
    page = client.get(location)
    assert page.status_code == 200
    return location.rsplit("/", 1)[1], page.text


def row(db, task_id):
    with db.read() as conn:
        return conn.execute(select(tasks).where(tasks.c.id == task_id)).mappings().one()


def held_token(db, task_id):
    """The token of the task's open assignment, or None."""
    with db.read() as conn:
        return conn.execute(select(assignments.c.lease_token).where(
            assignments.c.task_id == task_id, assignments.c.outcome.is_(None))).scalar()


def answered_by(db, task_id):
    with db.read() as conn:
        return conn.execute(select(assignments.c.worker_id).where(
            assignments.c.task_id == task_id, assignments.c.outcome == "submitted")).scalar_one()


@pytest.fixture
def worker(factory):
    return factory.user("worker")


def test_pages_need_a_signed_in_worker(client, factory):
    assert client.get("/work", follow_redirects=False).headers["location"] == "/login"
    operator = factory.user("operator")
    sign_in(client, operator)
    assert client.get("/work").status_code == 403


def test_empty_queue_says_so(client, worker):
    token = sign_in(client, worker)
    r = start(client, token)
    assert r.headers["location"] == "/work"
    assert "No tasks are waiting" in client.get("/work").text


SUBMISSIONS = {
    "categorization": ({"category": "1"}, {"category": "private"}),
    "transcription": (
        {"field-0": "Reddit", "field-1": "Cats", "row-0-0": "kn0thing", "row-0-1": "12",
         "row-1-0": "", "row-1-1": "", "row-4-0": "spez", "row-4-1": "3"},
        {"fields": {"title": "Reddit", "top_result": "Cats"},
         "rows": [{"username": "kn0thing", "comment_count": "12"}, {"username": "spez", "comment_count": "3"}]},
    ),
    "phonecall": ({"outcome": "success", "field-0": "alex@example.com"},
                  {"outcome": "success", "fields": {"email": "alex@example.com"}}),
    "comparison": ({"choice": "0"}, {"choice": "yes"}),
}


@pytest.mark.parametrize("type_name", list(SUBMISSIONS))
def test_answer_each_type_and_the_next_task_opens(client, factory, worker, db, app, type_name):
    customer = factory.customer()
    first = factory.task(customer, type_name, now=1)
    second = factory.task(customer, "categorization", now=2)
    woken = []
    app.state.taskforce.signals.subscribe("task_completed", lambda: woken.append(1))
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    assert task_id == first["id"]
    form, expected = SUBMISSIONS[type_name]
    r = client.post(f"/work/task/{task_id}",
                    data={"csrf_token": token, "lease": LEASE.search(page).group(1), **form},
                    follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/work/task/{second['id']}"  # straight on to the next
    done = row(db, task_id)
    assert done["status"] == "completed" and done["response"] == expected
    assert answered_by(db, task_id) == worker["id"]
    assert woken == [1]
    api = client.get(f"/v1/task/{task_id}", auth=customer.live_auth).json()
    assert api["status"] == "completed" and api["response"] == expected


def test_categorization_multiple_with_ids(client, factory, worker, db):
    customer = factory.customer()
    factory.task(customer, categories=["a", "b", "c"], allow_multiple=True,
                 category_ids={"10": "a", "30": "c"})
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    assert page.count('type="checkbox" name="category"') == 3
    r = client.post(f"/work/task/{task_id}",
                    data={"csrf_token": token, "lease": LEASE.search(page).group(1), "category": ["2", "0"]},
                    follow_redirects=False)
    assert r.status_code == 303
    assert row(db, task_id)["response"] == {"category": ["a", "c"], "category_id": ["10", "30"]}


BAD = [
    ("categorization", {}, {}, "Category: choose a category"),
    ("categorization", {}, {"category": "7"}, "Category: "),
    # The worker is told the field's description, never the customer's key (issue 13, item 17).
    ("transcription", {}, {"field-0": "x"}, "Title of the top result was not sent"),
    ("transcription", {}, {"field-0": "x", "field-1": " "}, "Title of the top result is empty: fill it in"),
    ("transcription", {}, {"field-0": "x", "field-1": "y",
                           **{f"row-{i}-0": f"u{i}" for i in range(11)}}, "Rows: at most 10 rows"),
    ("phonecall", {}, {"outcome": "voicemail", "field-0": ""}, "How the call went: must be one of"),
    ("comparison", {}, {"choice": "5"}, "Choice: choose one of the choices"),
    ("comparison", {"fields": {"why": "Why do they differ?"}}, {"choice": "0", "field-0": ""},
     "Why do they differ? is empty"),
]


@pytest.mark.parametrize(("type_name", "params", "form", "message"), BAD)
def test_refused_answers_come_back_with_the_error_and_store_nothing(
        client, factory, worker, db, type_name, params, form, message):
    customer = factory.customer()
    factory.task(customer, type_name, **params)
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    lease = LEASE.search(page).group(1)
    r = client.post(f"/work/task/{task_id}", data={"csrf_token": token, "lease": lease, **form})
    assert r.status_code == 400
    assert message in r.text.replace("&#39;", "'").replace("&lt;", "<")
    assert 'role="alert"' in r.text
    alert = re.search(r'role="alert">([^<]*)<', r.text).group(1)
    assert "fields[" not in alert and "rows[" not in alert, alert
    # What the worker typed is still there.
    for name, value in form.items():
        if name.startswith(("field-", "row-")) and value:
            assert f'value="{value}"' in r.text
    still = row(db, task_id)
    assert still["status"] == "pending" and still["response"] is None and held_token(db, task_id) == lease
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar() == 0


def test_skip_moves_on_and_never_offers_it_again(client, factory, worker, db):
    customer = factory.customer()
    first = factory.task(customer, now=1)
    second = factory.task(customer, now=2)
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    assert task_id == first["id"]
    r = client.post(f"/work/task/{task_id}/skip",
                    data={"csrf_token": token, "lease": LEASE.search(page).group(1)}, follow_redirects=False)
    assert r.headers["location"] == f"/work/task/{second['id']}"
    page = client.get(r.headers["location"]).text
    client.post(f"/work/task/{second['id']}/skip", data={"csrf_token": token, "lease": LEASE.search(page).group(1)})
    assert start(client, token).headers["location"] == "/work"
    assert held_token(db, first["id"]) is None


def test_submission_after_customer_cancel_is_refused_clearly(client, factory, worker, db):
    customer = factory.customer()
    task = factory.task(customer, now=1)
    nxt = factory.task(customer, now=2)
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    client.post(f"/v1/task/{task['id']}/cancel", auth=customer.live_auth)
    r = client.post(f"/work/task/{task_id}",
                    data={"csrf_token": token, "lease": LEASE.search(page).group(1), "category": "0"},
                    follow_redirects=False)
    assert r.headers["location"] == f"/work/task/{nxt['id']}"
    assert "The customer canceled this task" in client.get(r.headers["location"]).text
    assert row(db, task_id)["status"] == "canceled"


def test_submission_after_the_lease_expired_and_another_took_it(client, factory, worker, db):
    customer = factory.customer()
    factory.task(customer)
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    with db.write() as conn:  # the lease runs out and someone else claims the task
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(lease_expires_at=1))
        conn.execute(update(assignments).where(assignments.c.task_id == task_id).values(lease_expires_at=1))
        other = accounts.create_user(conn, "other@example.test", PASSWORD, "worker")
        service.claim(conn, other, lease_seconds=600)
    r = client.post(f"/work/task/{task_id}",
                    data={"csrf_token": token, "lease": LEASE.search(page).group(1), "category": "0"})
    assert r.status_code == 200 and r.url.path == "/work"
    assert "another worker has taken it" in r.text
    assert row(db, task_id)["status"] == "pending"
    # The page of a task that is no longer ours sends the worker home.
    assert client.get(f"/work/task/{task_id}").url.path == "/work"


def test_deactivated_worker_cannot_submit_or_sign_in(client, factory, worker, db):
    factory.task(factory.customer())
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    with db.write() as conn:
        accounts.set_active(conn, worker["id"], False)
    r = client.post(f"/work/task/{task_id}",
                    data={"csrf_token": token, "lease": LEASE.search(page).group(1), "category": "0"},
                    follow_redirects=False)
    assert r.headers["location"] == "/login"
    assert row(db, task_id)["status"] == "pending"
    login = client.post("/login", data={"csrf_token": csrf(client.get("/login").text),
                                        "email": worker["email"], "password": PASSWORD})
    assert "Wrong email or password" in login.text


def test_forms_without_the_csrf_token_change_nothing(client, factory, worker, db):
    factory.task(factory.customer())
    token = sign_in(client, worker)
    assert start(client, "forged").headers["location"] == "/work"
    task_id, page = open_next(client, token)
    lease = LEASE.search(page).group(1)
    client.post(f"/work/task/{task_id}", data={"lease": lease, "category": "0"})
    client.post(f"/work/task/{task_id}/skip", data={"csrf_token": "nope", "lease": lease})
    still = row(db, task_id)
    assert still["status"] == "pending" and held_token(db, task_id) == lease


@pytest.mark.parametrize("task_id", ["0" * 24, "nope", "x" * 300, "%3Cscript%3E"])
def test_unknown_task_ids_never_error(client, worker, task_id):
    token = sign_in(client, worker)
    assert client.get(f"/work/task/{task_id}").status_code == 200
    r = client.post(f"/work/task/{task_id}", data={"csrf_token": token, "lease": "x", "category": "0"})
    assert r.status_code == 200
    assert client.post(f"/work/task/{task_id}/skip", data={"csrf_token": token, "lease": "x"}).status_code == 200


def test_hand_back_and_stop(client, factory, worker, db):
    factory.task(factory.customer())
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    assert "You are holding a task" in client.get("/work").text
    r = client.post("/work/stop", data={"csrf_token": token, "task_id": task_id,
                                        "lease": LEASE.search(page).group(1)})
    assert "Task handed back" in r.text
    assert held_token(db, task_id) is None
    # Handed back is not skipped: it can come to this worker again.
    assert open_next(client, token)[0] == task_id


NASTY = ["²", "٣", "-1", "1e3", "", " 0", "0" * 12, "99999999999", "\x00", "NaN", "1.0", "０"]


@pytest.mark.parametrize("type_name", list(SUBMISSIONS))
def test_no_form_input_causes_an_error_page(client, factory, worker, db, type_name):
    customer = factory.customer()
    factory.task(customer, type_name, **({"fields": {"why": "Why?"}} if type_name == "comparison" else {}))
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    lease = LEASE.search(page).group(1)
    for value in NASTY:
        form = {"csrf_token": token, "lease": lease, "category": value, "choice": value,
                "outcome": value, "field-0": value, f"field-{value}": "x", f"row-{value}-0": "x",
                "row-0-0": value, "row-999-999": "x", "rows": value, "fields": value}
        r = client.post(f"/work/task/{task_id}", data=form, follow_redirects=False)
        assert r.status_code in (303, 400), (value, r.status_code, r.text[:300])
    assert row(db, task_id)["status"] in ("pending", "completed")


def test_operator_ids_that_are_not_ascii_digits(client, factory):
    from tests.integration.test_worker_pages import sign_in as operator_sign_in

    token = operator_sign_in(client, factory.user("operator"))
    for raw in ("²", "٣", "０", "-1"):
        for action in ("deactivate", "reactivate", "password"):
            r = client.post(f"/operator/workers/{raw}/{action}", data={"csrf_token": token, "password": "x" * 9})
            assert r.status_code == 200 and "no such worker" in r.text
