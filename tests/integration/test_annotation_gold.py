"""Gold for the four image annotation types, on both backends: created and listed through
/v1/evaluation_tasks with the expected shapes checked by the type's own answer check (a bad one is
a 400 naming expected_response); a worker's drawing on a gold task, through the worker's page,
scored by pairing shapes (their gold record changes, nothing is completed or called back); an
operator turning a completed annotation task into gold."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from taskforce.models import assignments, deliveries, tasks
from taskforce.quality import gold
from taskforce.task_types import REGISTRY
from tests.factories import VALID_PARAMS
from tests.integration.test_gold import answer, claim
from tests.integration.test_worker_pages import LEASE, csrf, open_next, sign_in

TYPES = ["annotation", "polygonannotation", "lineannotation", "pointannotation"]


def _square(x, y, side=80):
    return [{"x": x, "y": y}, {"x": x + side, "y": y}, {"x": x + side, "y": y + side}, {"x": x, "y": y + side}]


#: Per type (VALID_PARAMS' labels and limits): the expected shapes, a drawing a few pixels off
#: (right), and drawings that are wrong (a shape elsewhere, the wrong label, one missing).
EXPECTED = {
    "annotation": [{"left": 20, "top": 30, "width": 100, "height": 60, "label": "big cow"},
                   {"left": 300, "top": 200, "width": 40, "height": 40, "label": "baby cow"}],
    "polygonannotation": [{"label": "car", "vertices": _square(20, 20)},
                          {"label": "suv", "vertices": _square(300, 200)}],
    "lineannotation": [{"label": "solid line", "vertices": [{"x": 10, "y": 400}, {"x": 600, "y": 380}]},
                       {"label": "dashed line", "vertices": [{"x": 10, "y": 300}, {"x": 300, "y": 150},
                                                             {"x": 600, "y": 100}]}],
    "pointannotation": [{"label": "head", "x": 100, "y": 120}, {"label": "head", "x": 400, "y": 90}],
}


def _moved(shape, dx, dy):
    out = dict(shape)
    if "vertices" in shape:
        out["vertices"] = [{"x": v["x"] + dx, "y": v["y"] + dy} for v in shape["vertices"]]
    elif "left" in shape:
        out["left"], out["top"] = shape["left"] + dx, shape["top"] + dy
    else:
        out["x"], out["y"] = shape["x"] + dx, shape["y"] + dy
    return out


def close_drawing(type_name):
    """The expected shapes in the other order, each a few pixels off: right."""
    return [_moved(s, 3, -2) for s in reversed(EXPECTED[type_name])]


def wrong_drawings(type_name):
    shapes = EXPECTED[type_name]
    labels = VALID_PARAMS[type_name]["objects_to_annotate"]
    other = [l for l in labels if l != shapes[0]["label"]]
    out = {"one missing": shapes[:1], "one elsewhere": [shapes[0], _moved(shapes[1], 150, 150)],
           "one extra": shapes + [_moved(shapes[0], 0, 150)]}
    if other:
        out["wrong label"] = [{**shapes[0], "label": other[0]}, shapes[1]]
    return out


def create_gold(client, customer, type_name, expected=None):
    body = {**VALID_PARAMS[type_name], "expected_response": {
        "annotations": EXPECTED[type_name] if expected is None else expected}}
    return client.post(f"/v1/evaluation_tasks/{type_name}", json=body, auth=customer.live_auth)


@pytest.mark.parametrize("type_name", TYPES)
def test_api_creates_and_lists_annotation_gold(client, factory, type_name):
    customer = factory.customer()
    created = create_gold(client, customer, type_name)
    assert created.status_code == 200, created.text
    made = created.json()
    assert made["type"] == type_name and made["status"] == "pending"
    assert made["expected_response"] == {"annotations": EXPECTED[type_name]}
    assert made["params"]["objects_to_annotate"] == VALID_PARAMS[type_name]["objects_to_annotate"]
    listed = client.get("/v1/evaluation_tasks", auth=customer.live_auth).json()
    assert [d["task_id"] for d in listed["docs"]] == [made["task_id"]] and listed["total"] == 1
    assert client.get("/v1/tasks", auth=customer.live_auth).json()["total"] == 0
    # Nothing to draw is an expected answer too.
    assert create_gold(client, customer, type_name, expected=[]).status_code == 200


def test_api_takes_gold_as_a_form(client, factory):
    """In a form, expected_response is read like metadata: one JSON object as its value, or
    bracketed keys (whose values are text, so a drawing's pixels must come as JSON)."""
    customer = factory.customer()

    def post(type_name, extra):
        body = VALID_PARAMS[type_name]
        listed = "objects_to_annotate" if type_name == "annotation" else "categories"
        pairs = [(k, "true" if v is True else str(v)) for k, v in body.items() if k != listed]
        pairs += [(listed, label) for label in body[listed]] + extra
        return client.post(f"/v1/evaluation_tasks/{type_name}", content=urlencode(pairs), auth=customer.live_auth,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})

    expected = {"annotations": EXPECTED["annotation"]}
    r = post("annotation", [("expected_response", json.dumps(expected))])
    assert r.status_code == 200, r.text
    assert r.json()["expected_response"] == expected
    r = post("categorization", [("expected_response[category]", "private")])
    assert r.status_code == 200, r.text
    assert r.json()["expected_response"] == {"category": "private"}
    r = post("annotation", [(f"expected_response[annotations][0][{k}]", str(v))
                            for k, v in EXPECTED["annotation"][0].items()])
    assert r.status_code == 400 and r.json()["error"].startswith("expected_response: annotations[0][left]"), r.text


BAD_EXPECTED = [
    ("annotation", "not an object", "is required"),
    ("annotation", {"annotations": "boxes"}, "annotations: must be an array"),
    ("annotation", {}, "annotations: is required"),
    ("annotation", {"annotations": [{"left": 0, "top": 0, "width": 10, "height": 40, "label": "big cow"}]},
     "annotations[0][width]"),
    ("annotation", {"annotations": [{"left": 0, "top": 0, "width": 40, "height": 40, "label": "horse"}]},
     "annotations[0][label]"),
    ("annotation", {"annotations": [{"left": 0, "top": 0, "width": 40, "height": 40}]}, "annotations[0][label]"),
    ("polygonannotation", {"annotations": [{"label": "car", "vertices": _square(0, 0)[:3]}]},
     "annotations[0][vertices]"),
    ("lineannotation", {"annotations": [{"label": "solid line", "vertices": [{"x": 1, "y": "a"}, {"x": 2, "y": 2}]}]},
     "annotations[0][vertices][0][y]"),
    ("pointannotation", {"annotations": [{"label": "head", "x": 1}]}, "annotations[0][y]"),
]


@pytest.mark.parametrize(("type_name", "expected", "says"), BAD_EXPECTED)
def test_api_refuses_bad_expected_shapes_naming_expected_response(client, factory, type_name, expected, says):
    customer = factory.customer()
    body = {**VALID_PARAMS[type_name], "expected_response": expected}
    r = client.post(f"/v1/evaluation_tasks/{type_name}", json=body, auth=customer.live_auth)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error.startswith("expected_response:") and says in error, error
    assert client.get("/v1/evaluation_tasks", auth=customer.live_auth).json()["total"] == 0


@pytest.mark.parametrize("type_name", TYPES)
def test_a_drawing_on_gold_is_scored_by_its_shapes(db, factory, type_name):
    task_type = REGISTRY.get(type_name)
    customer = factory.customer()
    params = task_type.parse(VALID_PARAMS[type_name])
    with db.write() as conn:
        made = gold.create(conn, customer_id=customer.id, is_test=False, task_type=task_type, params=params,
                           expected={"annotations": EXPECTED[type_name]})
    drawings = {"close": close_drawing(type_name), **wrong_drawings(type_name)}
    workers = {name: factory.user("worker") for name in drawings}
    for name, shapes in drawings.items():
        worker = workers[name]
        lease = claim(db, worker, rate=1.0)
        assert lease.task_id == made["id"]
        from taskforce.tasks import service
        with db.write() as conn:
            task = service.complete(conn, lease.task_id, {"annotations": shapes}, worker_id=worker["id"],
                                    lease_token=lease.token)
        assert task["status"] == "pending"
    with db.read() as conn:
        scored = dict(conn.execute(select(assignments.c.worker_id, assignments.c.gold_correct)
                                   .where(assignments.c.task_id == made["id"])).all())
        assert conn.execute(select(func.count()).select_from(deliveries)).scalar_one() == 0
    assert {name: scored[w["id"]] for name, w in workers.items()} == {
        name: name == "close" for name in drawings}


def test_a_worker_draws_on_annotation_gold_through_the_page(client, factory, db):
    """The gold task's page is the real task's page (the drawing tool, no word of gold); the
    submitted drawing is scored and the worker's gold record changes."""
    customer = factory.customer()
    gold_task = create_gold(client, customer, "annotation").json()
    real = factory.task(customer, "annotation")
    worker = factory.user("worker")
    token = sign_in(client, worker)

    def gold_record():
        with db.read() as conn:
            return gold.gold_counts(conn, [worker["id"]]).get((worker["id"], "annotation"))

    assert gold_record() is None
    # A new worker's first claim is gold's turn (gold_rate 0.1: one claim in ten).
    task_id, html = open_next(client, token)
    assert task_id == gold_task["task_id"]
    assert "data-annotator" in html and 'data-kind="box"' in html and "big cow" in html
    assert '<script src="/task-types/annotation/annotate.js" defer>' in html
    assert "gold" not in html.lower() and "expected" not in html.lower()
    data = {"csrf_token": csrf(html), "lease": LEASE.search(html).group(1),
            "annotations": json.dumps(close_drawing("annotation")), "image_width": "640", "image_height": "480"}
    r = client.post(f"/work/task/{task_id}", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/work/task/{real['id']}"
    assert gold_record() == (1, 1)
    with db.read() as conn:
        assert conn.execute(select(tasks.c.status).where(tasks.c.id == task_id)).scalar_one() == "pending"
    # The real task (same parameters) has the very same page, but for its id, lease and clock.
    assert _main(client.get(f"/work/task/{real['id']}").text, real["id"]) == _main(html, task_id)


def _main(html, task_id):
    main = html[html.index("<main"):html.index("</main>")].replace(task_id, "ID")
    main = re.sub(r'name="(lease|csrf_token)" value="[^"]+"', r'name="\1"', main)
    return re.sub(r'data-seconds-left="\d+">Time left: <strong data-lease-clock>[\d:]+', "", main)


def test_operator_turns_a_completed_annotation_task_into_gold(client, factory, db):
    customer = factory.customer()
    task = factory.task(customer, "polygonannotation")
    worker = factory.user("worker")
    lease = claim(db, worker, rate=0.0)
    from taskforce.tasks import service
    with db.write() as conn:
        service.complete(conn, lease.task_id, {"annotations": EXPECTED["polygonannotation"]},
                         worker_id=worker["id"], lease_token=lease.token)
    token = sign_in(client, factory.user("operator"))
    r = client.post("/operator/gold", data={"csrf_token": token, "task_id": task["id"]})
    assert "Gold task" in r.text, r.text
    with db.read() as conn:
        made = conn.execute(select(tasks).where(tasks.c.gold.is_(True))).mappings().one()
    assert made["type"] == "polygonannotation" and made["params"] == task["params"]
    assert made["expected_response"] == {"annotations": EXPECTED["polygonannotation"]}
    # It scores the next worker's drawing by its shapes.
    nxt = factory.user("worker")
    lease = claim(db, nxt, rate=1.0)
    assert lease.task_id == made["id"]
    with db.write() as conn:
        service.complete(conn, lease.task_id, {"annotations": close_drawing("polygonannotation")},
                         worker_id=nxt["id"], lease_token=lease.token)
        assert gold.gold_counts(conn, [nxt["id"]])[(nxt["id"], "polygonannotation")] == (1, 1)


def test_agreeing_with_a_combined_drawing_is_judged_by_overlap(db, factory):
    """The Workers page's "agrees with final" for annotation: two workers' nearly equal boxes are
    combined into a box neither drew exactly; both agree with it (exact equality said neither)."""
    from taskforce.quality.worker_skill import worker_skills
    from taskforce.tasks import service

    task = factory.task(factory.customer(), "annotation", overlap=2)
    workers = [factory.user("worker") for _ in range(2)]
    for worker, dx in zip(workers, (0, 6)):
        lease = claim(db, worker, rate=0.0)
        assert lease.task_id == task["id"]
        with db.write() as conn:
            done = service.complete(conn, task["id"], {"annotations": [_moved(s, dx, 0) for s in EXPECTED["annotation"]]},
                                    worker_id=worker["id"], lease_token=lease.token)
    assert done["status"] == "completed" and done["response"]["annotations"][0]["left"] == 23
    with db.read() as conn:
        skills = worker_skills(conn, [w["id"] for w in workers])
    assert [skills[w["id"]].types["annotation"].agreement for w in workers] == [1.0, 1.0]
