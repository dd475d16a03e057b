"""Image annotation through the app on both backends: the four create endpoints (JSON and forms),
400s naming the parameter, a worker's drawing submitted through the
answer page (refused answers stored nowhere), and the answer drawn on the dashboard's task page. (Test mode's simulated drawing goes end to end in
test_test_mode.py, which covers every type in VALID_PARAMS.)"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from markupsafe import escape
from sqlalchemy import update

from taskforce.models import tasks
from taskforce.task_types.worker_labels import answer_label
from taskforce.tasks import service
from tests.factories import VALID_PARAMS
from tests.integration.test_worker_pages import LEASE, csrf, open_next, row, sign_in

TYPES = ["annotation", "polygonannotation", "lineannotation", "pointannotation"]


@pytest.mark.parametrize("type_name", TYPES)
def test_create_each_type_as_json_and_as_a_form(client, factory, type_name):
    customer = factory.customer()
    body = VALID_PARAMS[type_name]
    r = client.post(f"/v1/task/{type_name}", json=body, auth=customer.live_auth)
    assert r.status_code == 200, r.text
    task = r.json()
    assert task["type"] == type_name and task["status"] == "pending"
    assert task["instruction"] == body["instruction"]
    assert task["params"]["objects_to_annotate"] == body["objects_to_annotate"]
    assert task["params"]["attachment_type"] == "image"
    # The same as a url-encoded form (repeated keys, numbers and booleans as text).
    form = {k: v for k, v in body.items() if k != "objects_to_annotate"}
    form = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in form.items()}
    pairs = list(form.items()) + [("objects_to_annotate", label) for label in body["objects_to_annotate"]]
    r = client.post(f"/v1/task/{type_name}", content=urlencode(pairs), auth=customer.live_auth,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert r.json()["params"] == task["params"]
    fetched = client.get(f"/v1/task/{task['task_id']}", auth=customer.live_auth).json()
    assert fetched["params"] == task["params"]


def test_the_instruction_may_be_left_out(client, factory):
    customer = factory.customer()
    body = {k: v for k, v in VALID_PARAMS["annotation"].items() if k != "instruction"}
    r = client.post("/v1/task/annotation", json=body, auth=customer.live_auth)
    assert r.status_code == 200, r.text
    assert r.json()["instruction"] == "Draw a box on every baby cow, big cow."


CASES = [
    ("annotation", {"attachment": None}, "attachment"),
    ("annotation", {"attachment": "javascript:alert(1)"}, "attachment"),
    ("annotation", {"attachment": "file:///etc/passwd"}, "attachment"),
    ("annotation", {"attachment_type": "video"}, "attachment_type"),
    ("annotation", {"objects_to_annotate": None}, "objects_to_annotate"),
    ("annotation", {"objects_to_annotate": [f"o{i}" for i in range(7)]}, "objects_to_annotate"),
    ("annotation", {"objects_to_annotate": "cow"}, "objects_to_annotate"),
    ("annotation", {"with_labels": "perhaps"}, "with_labels"),
    ("annotation", {"min_width": -5}, "min_width"),
    ("annotation", {"min_height": "tall"}, "min_height"),
    ("annotation", {"layers": {"boxes": [{"left": 0}]}}, "layers[boxes][0]"),
    ("annotation", {"examples": [{"image": "data:,x"}]}, "examples[0][image]"),
    ("polygonannotation", {"max_vertices": 2}, "max_vertices"),
    ("polygonannotation", {"min_vertices": 20, "max_vertices": 15}, "max_vertices"),
    ("lineannotation", {"splines": "yes please"}, "splines"),
    ("lineannotation", {"min_vertices": 0}, "min_vertices"),
    ("pointannotation", {"callback_url": "ftp://x.example/cb"}, "callback_url"),
]


def test_invalid_parameters_are_400s_naming_them(client, factory):
    customer = factory.customer()
    wrong = []
    for type_name, changes, param in CASES:
        body = {**VALID_PARAMS[type_name], **changes}
        body = {k: v for k, v in body.items() if v is not None}
        r = client.post(f"/v1/task/{type_name}", json=body, auth=customer.live_auth)
        error = r.json().get("error", "")
        if r.status_code != 400 or not error.startswith(f"{param}:"):
            wrong.append((type_name, changes, r.status_code, error))
    assert not wrong


HOSTILE = '<img src=x onerror="alert(1)">'


def test_a_worker_submits_a_drawing_and_refused_drawings_store_nothing(client, factory, db):
    customer = factory.customer()
    task = factory.task(customer, "annotation", objects_to_annotate=["cow", HOSTILE], min_width=30)
    worker = factory.user("worker")
    token = sign_in(client, worker)
    task_id, html = open_next(client, token)
    assert task_id == task["id"]
    assert "data-annotator" in html and 'data-kind="box"' in html and 'data-min-width="30"' in html
    assert '<script src="/task-types/annotation/annotate.js" defer>' in html and HOSTILE not in html
    assert '<link rel="stylesheet" href="/task-types/annotation/annotate.css">' in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    lease = LEASE.search(html).group(1)
    token = csrf(html)

    def submit(shapes, **extra):
        data = {"csrf_token": token, "lease": lease, "annotations": json.dumps(shapes),
                "image_width": "640", "image_height": "480", **extra}
        return client.post(f"/work/task/{task_id}", data=data, follow_redirects=False)

    refused = [
        ([{"left": 10, "top": 10, "width": 20, "height": 40, "label": "cow"}], {}, "annotations[0][width]"),
        ([{"left": 600, "top": 10, "width": 50, "height": 40, "label": "cow"}], {}, "annotations[0][width]"),
        ([{"left": 10, "top": 10, "width": 50, "height": 40, "label": "horse"}], {}, "annotations[0][label]"),
        ("not json", {}, "annotations"),
        ([], {"image_width": "-3"}, "image_width"),
        ([], {"image_width": "", "image_height": ""}, "image"),   # the image never loaded
    ]
    for shapes, extra, param in refused:
        data_shapes = shapes if isinstance(shapes, list) else shapes
        r = submit(data_shapes, **extra) if isinstance(shapes, list) else client.post(
            f"/work/task/{task_id}", data={"csrf_token": token, "lease": lease, "annotations": shapes,
                                           "image_width": "640", "image_height": "480"},
            follow_redirects=False)
        assert r.status_code == 400, (param, r.status_code)
        # Named as the worker's page shows it ("Shape 1, width"), not by the API's path.
        label = answer_label(task["params"], param)
        assert label is not None and f"{escape(label)}:" in r.text, param
        assert row(db, task_id)["status"] == "pending"
    # The refused drawing comes back to the tool, to be fixed rather than redrawn.
    assert "&#34;horse&#34;" in submit([{"left": 10, "top": 10, "width": 50, "height": 40, "label": "horse"}]).text
    good = [{"left": 10, "top": 10, "width": 50, "height": 40, "label": "cow"},
            {"left": 100, "top": 200, "width": 300, "height": 100, "label": HOSTILE}]
    r = submit(good)
    assert r.status_code == 303
    stored = row(db, task_id)
    assert stored["status"] == "completed"
    assert stored["response"] == {"annotations": good}


def test_the_dashboard_draws_the_answer_over_the_image(client, factory, db):
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    task = factory.task(customer, "polygonannotation", objects_to_annotate=["car", HOSTILE], is_test=True)
    response = {"annotations": [
        {"label": HOSTILE, "vertices": [{"x": 1, "y": 2}, {"x": 30, "y": 2}, {"x": 30, "y": 40}, {"x": 1, "y": 40}]},
        {"label": "car", "vertices": [{"x": 100, "y": 100}, {"x": 150, "y": 120}, {"x": 120, "y": 160},
                                      {"x": 100, "y": 150}]},
    ]}
    with db.write() as conn:
        service.complete(conn, task["id"], response, worker_id=None, lease_token=None)
        # As several workers' combined answer is stored: each shape with its agreement.
        response["annotations"][1]["agreement"] = 0.667
        conn.execute(update(tasks).where(tasks.c.id == task["id"]).values(response=response))
    sign_in(client, user)
    html = client.get(f"/dashboard/tasks/{task['id']}").text
    assert "data-annotation-view" in html and 'src="http://i.imgur.com/XOJbalC.jpg"' in html
    assert 'points="1,2 30,2 30,40 1,40 "' in html
    assert "label-1" in html and "label-0" in html      # colour by the label's place
    assert HOSTILE not in html and "&lt;img src=x" in html
    assert "67%" in html                                 # the combined shape's agreement


def test_the_dashboard_survives_a_stored_response_of_any_shape(client, factory, db):
    customer = factory.customer()
    user = factory.user("customer", customer_id=customer.id)
    task = factory.task(customer, "annotation", is_test=True)
    with db.write() as conn:
        service.complete(conn, task["id"], {"annotations": []}, worker_id=None, lease_token=None)
        conn.execute(update(tasks).where(tasks.c.id == task["id"]).values(
            response={"annotations": [{"left": "x", "label": ["a"]}, 3, None, {"vertices": "no"}]}))
    sign_in(client, user)
    r = client.get(f"/dashboard/tasks/{task['id']}")
    assert r.status_code == 200
