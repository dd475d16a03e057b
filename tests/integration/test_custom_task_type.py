"""A task type defined only in the test suite (tests/custom_type: its Python and its two partials)
gets everything a built-in type gets, with no edit anywhere else: API create (JSON and form, both
endpoints), retrieve and list, /openapi.json, the worker's page and its answer, the dashboard's
task page, and test mode's simulated worker. Both backends."""

from __future__ import annotations

import re

import pytest

from taskforce.clock import now_ms
from taskforce.models import tasks
from taskforce.task_types import REGISTRY
from taskforce.task_types.answers import Answer
from taskforce.tasks import simulator
from taskforce.tasks.status import Urgency
from tests.custom_type import NAME, RATING, registered_rating
from tests.integration.test_dashboard import signed_in
from tests.integration.test_worker_pages import LEASE, NASTY, open_next, row, sign_in

TEXT = "The <b>new</b> onboarding email"


@pytest.fixture
def rating():
    yield from registered_rating()


@pytest.fixture
def app(settings, db, rating):
    # Built after the type is registered, as an app built at start-up sees every type.
    from taskforce.app import create_app

    return create_app(settings, db)


def create(client, customer, *, test=False, **extra):
    body = {"callback_url": "http://www.example.com/cb", "instruction": "Rate the subject line",
            "text": TEXT, **extra}
    r = client.post("/v1/task/rating", json=body, auth=customer.test_auth if test else customer.live_auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_api_creates_retrieves_and_lists_it(client, factory):
    customer = factory.customer()
    task = create(client, customer, scale=4)
    assert task["type"] == NAME and task["status"] == "pending"
    assert task["params"] == {"text": TEXT, "scale": 4}
    # The alias endpoint and a url-encoded form, as curl -d sends it.
    r = client.post("/v1/task/rate/", data={"callback_url": "http://www.example.com/cb",
                                            "instruction": "Rate", "text": "x", "scale": "3"},
                    auth=customer.live_auth)
    assert r.status_code == 200, r.text
    assert r.json()["params"] == {"text": "x", "scale": 3}
    # The type's own checks, with the parameter named.
    r = client.post("/v1/task/rating", json={"callback_url": "http://www.example.com/cb",
                                             "instruction": "Rate", "text": "x", "scale": 11},
                    auth=customer.live_auth)
    assert r.status_code == 400 and r.json()["error"].startswith("scale:")
    assert client.get(f"/v1/task/{task['task_id']}", auth=customer.live_auth).json() == task
    listed = client.get("/v1/tasks?type=rating", auth=customer.live_auth).json()
    assert listed["total"] == 2 and {t["type"] for t in listed["docs"]} == {NAME}
    # Another type's filter does not see it; the built-in types are all still there.
    assert client.get("/v1/tasks?type=categorization", auth=customer.live_auth).json()["total"] == 0
    assert client.post("/v1/task/categorize", json=factory_body(), auth=customer.live_auth).status_code == 200


def factory_body():
    from tests.factories import VALID_PARAMS

    return VALID_PARAMS["categorization"]


def test_openapi_documents_it(client):
    spec = client.get("/openapi.json").json()
    for endpoint in RATING.endpoints:
        op = spec["paths"][f"/v1/task/{endpoint}"]["post"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert {"text", "scale"} <= set(schema["properties"]) and "text" in schema["required"]
        assert schema["properties"]["urgency"]["enum"] == [u.value for u in Urgency]
    listing = spec["paths"]["/v1/tasks"]["get"]
    type_filter = next(p for p in listing["parameters"] if p["name"] == "type")
    assert type_filter["schema"]["enum"] == [t.name for t in REGISTRY] and NAME in type_filter["schema"]["enum"]
    task_schema = spec["paths"]["/v1/task/{task_id}"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    assert NAME in task_schema["properties"]["type"]["enum"]
    assert task_schema["properties"]["status"]["enum"] == ["pending", "completed", "canceled"]
    assert task_schema["properties"]["urgency"]["enum"] == ["immediate", "day", "week"]


def test_a_worker_answers_it_on_the_page(client, factory, db):
    customer = factory.customer()
    task = create(client, customer, scale=4)
    worker = factory.user("worker")
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    assert task_id == task["task_id"]
    # The type's own partial, inside the shared page; customer text escaped.
    assert "Rate it from 1 to 4" in page and "The &lt;b&gt;new&lt;/b&gt; onboarding email" in page
    assert page.count('type="radio" name="rating"') == 4
    lease = LEASE.search(page).group(1)
    # A refused answer comes back through the type's form_values, with nothing stored.
    r = client.post(f"/work/task/{task_id}", data={"csrf_token": token, "lease": lease,
                                                   "rating": "9", "note": "kept"})
    assert r.status_code == 400 and "choose a rating from 1 to 4" in r.text
    assert 'value="kept"' in r.text and row(db, task_id)["status"] == "pending"
    r = client.post(f"/work/task/{task_id}", data={"csrf_token": token, "lease": lease,
                                                   "rating": "2", "note": "clear enough"},
                    follow_redirects=False)
    assert r.status_code == 303
    done = row(db, task_id)
    assert done["status"] == "completed" and done["response"] == {"rating": 3, "note": "clear enough"}
    api = client.get(f"/v1/task/{task_id}", auth=customer.live_auth).json()
    assert api["response"] == {"rating": 3, "note": "clear enough"}


def test_no_form_input_causes_an_error_page(client, factory, db):
    create(client, factory.customer())
    token = sign_in(client, factory.user("worker"))
    task_id, page = open_next(client, token)
    lease = LEASE.search(page).group(1)
    for value in NASTY:
        r = client.post(f"/work/task/{task_id}", data={"csrf_token": token, "lease": lease, "rating": [value, "1"],
                                                       "note": value * 600}, follow_redirects=False)
        assert r.status_code in (303, 400), (value, r.status_code, r.text[:300])
    assert row(db, task_id)["status"] in ("pending", "completed")


def test_the_dashboard_draws_its_response(app, client, factory, db):
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    task = create(client, customer, test=True)
    with db.write() as conn:
        assert simulator.complete_due(conn, now=now_ms(), delay_ms=0) == [task["task_id"]]
    answered = client.get(f"/v1/task/{task['task_id']}", auth=customer.test_auth).json()
    expected = RATING.simulated_response(task["task_id"], task["params"])
    assert answered["status"] == "completed" and answered["response"] == expected
    page = signed_in(app, user["email"]).get(f"/dashboard/tasks/{task['task_id']}").text
    assert re.search(rf'Rated <strong data-rating>{expected["rating"]}</strong> of 5', page)
    # And the tasks table offers it as a filter.
    listing = signed_in(app, user["email"]).get("/dashboard/tasks?mode=test&type=rating").text
    assert task["task_id"] in listing and '<option value="rating"' in listing


def test_its_assets_are_served_and_nothing_else_of_its_folder(client, factory):
    js = client.get("/task-types/rating/rating.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "ratingScript" in js.text and js.headers["x-content-type-options"] == "nosniff"
    css = client.get("/task-types/rating/rating.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    for path in ("/task-types/rating/__init__.py", "/task-types/rating/form.html",
                 "/task-types/rating/..%2F__init__.py", "/task-types/nope/rating.js",
                 "/task-types/categorization/form.html", "/task-types/rating/"):
        assert client.get(path).status_code == 404, path
    # The worker's page loads them for this type only.
    customer = factory.customer()
    create(client, customer)
    token = sign_in(client, factory.user("worker"))
    _, page = open_next(client, token)
    assert '<script src="/task-types/rating/rating.js" defer></script>' in page
    assert '<link rel="stylesheet" href="/task-types/rating/rating.css">' in page


def test_its_combine_hook_is_the_types_own(rating):
    answers = [Answer(worker_id=i, response={"rating": r, "note": ""}) for i, r in enumerate([2, 3, 5])]
    assert rating.combine({"text": "x", "scale": 5}, answers, None).response == {"rating": 3, "note": ""}
    # A built-in type combines with the quality package's hook (issue 10).
    two = [Answer(worker_id=1, response={"category": "a"}), Answer(worker_id=2, response={"category": "a"})]
    assert REGISTRY.get("categorization").combine({"categories": ["a", "b"]}, two, None).method == "majority"


def test_an_unregistered_types_tasks_do_not_break_pages(client, factory, db):
    customer = factory.customer()
    task = create(client, customer)
    worker = factory.user("worker")
    token = sign_in(client, worker)
    task_id, page = open_next(client, token)
    lease = LEASE.search(page).group(1)
    REGISTRY.unregister(NAME)
    try:
        assert client.get(f"/work/task/{task_id}").url.path == "/work"
        r = client.post(f"/work/task/{task_id}", data={"csrf_token": token, "lease": lease, "rating": "0"})
        assert r.status_code == 200 and r.url.path == "/work"
        with db.read() as conn:
            assert conn.execute(tasks.select().where(tasks.c.id == task["task_id"])).mappings().one()[
                "status"] == "pending"
    finally:
        REGISTRY.register(RATING)  # the fixture unregisters it
