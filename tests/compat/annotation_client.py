"""Drive an official `scaleapi` Python client (0.1.10 or 2.x) through the image annotation types.

Run by tests/compat/test_annotation_clients.py with the client's own venv:
    .venv-compat/scaleapi0110/bin/python annotation_client.py BASE_URL LIVE_KEY TEST_KEY
Only the base URL is changed from what a customer would write. Prints one JSON object; any
unexpected exception fails the run (exit 1).
"""

from __future__ import annotations

import json
import sys
import time

import scaleapi

try:  # 2.x keeps its exceptions in a submodule
    from scaleapi.exceptions import ScaleException
except ImportError:  # 0.1.x
    from scaleapi import ScaleException

BASE, LIVE, TEST = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
CALLBACK = "http://127.0.0.1:9/callback"
IMAGE = "http://i.imgur.com/v4cBreD.jpg"

# Only parameters each client lets through (0.1.10 checks them against its own list).
CREATE = {
    "annotation": dict(callback_url=CALLBACK, instruction="Draw a box around each baby cow and big cow.",
                       attachment_type="image", attachment=IMAGE, objects_to_annotate=["baby cow", "big cow"],
                       with_labels=True, min_width=30, min_height=30,
                       examples=[{"image": "http://i.imgur.com/lj6e98s.jpg", "correct": False,
                                  "explanation": "The box should include the tail."}],
                       layers={"boxes": [{"left": 5, "top": 6, "width": 70, "height": 80}]}),
    "polygonannotation": dict(callback_url=CALLBACK, instruction="Draw a polygon around each car.",
                              attachment_type="image", attachment=IMAGE, objects_to_annotate=["car", "suv"],
                              with_labels=True),
    "lineannotation": dict(callback_url=CALLBACK, instruction="Trace the lane lines.", attachment_type="image",
                           attachment=IMAGE, objects_to_annotate=["solid", "dashed"], with_labels=True,
                           splines=True),
    "pointannotation": dict(callback_url=CALLBACK, instruction="Put a point on each head.", attachment_type="image",
                            attachment=IMAGE, objects_to_annotate=["head"], with_labels=True),
}


def task_json(task) -> dict:
    if hasattr(type(task), "as_dict"):
        return task.as_dict()
    return dict(task.param_dict)


def error(call) -> dict:
    try:
        call()
    except ScaleException as exc:
        return {"class": type(exc).__name__, "code": getattr(exc, "code", None), "message": str(exc)}
    return {"class": None}


def wait_completed(fetch, task_id: str) -> dict:
    deadline = time.monotonic() + 90
    while True:
        task = task_json(fetch(task_id))
        if task["status"] == "completed" or time.monotonic() > deadline:
            return task
        time.sleep(0.2)


def run_0110(out: dict) -> None:
    scaleapi.SCALE_ENDPOINT = BASE + "/v1/"
    live, test = scaleapi.ScaleClient(LIVE), scaleapi.ScaleClient(TEST)
    helpers = {"annotation": live.create_annotation_task, "polygonannotation": live.create_polygonannotation_task,
               "lineannotation": live.create_lineannotation_task}
    out["created"] = {name: task_json(make(**CREATE[name])) for name, make in helpers.items()}
    out["fetched"] = task_json(live.fetch_task(out["created"]["annotation"]["task_id"]))
    made = test.create_annotation_task(**CREATE["annotation"])
    out["completed"] = wait_completed(test.fetch_task, made.id)
    out["errors"] = {"invalid": error(lambda: live.create_annotation_task(
        **{**CREATE["annotation"], "objects_to_annotate": [f"o{i}" for i in range(7)]}))}


def run_2(out: dict) -> None:
    from scaleapi.tasks import TaskType

    kinds = {"annotation": TaskType.Annotation, "polygonannotation": TaskType.PolygonAnnotation,
             "lineannotation": TaskType.LineAnnotation, "pointannotation": TaskType.PointAnnotation}
    live = scaleapi.ScaleClient(LIVE, api_instance_url=BASE + "/v1")
    test = scaleapi.ScaleClient(TEST, api_instance_url=BASE + "/v1")
    out["created"] = {name: task_json(live.create_task(kind, project="annotate", unique_id=f"a-{name}",
                                                       **CREATE[name]))
                      for name, kind in kinds.items()}
    out["fetched"] = task_json(live.get_task(out["created"]["annotation"]["task_id"]))
    out["listed"] = sorted(t.type for t in live.get_tasks(project_name="annotate"))
    out["completed"] = {}
    for name, kind in kinds.items():
        made = test.create_task(kind, **CREATE[name])
        out["completed"][name] = wait_completed(test.get_task, made.id)
    out["errors"] = {"invalid": error(lambda: live.create_task(
        TaskType.PolygonAnnotation, **{**CREATE["polygonannotation"], "attachment": "javascript:alert(1)"}))}


def main() -> None:
    out: dict = {"client": "0.1" if "SCALE_ENDPOINT" in vars(scaleapi) else "2"}
    (run_0110 if out["client"] == "0.1" else run_2)(out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
