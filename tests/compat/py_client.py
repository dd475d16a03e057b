"""Drive an official `scaleapi` Python client (0.1.x or 2.x) against a Taskforce server.

Run by tests/compat/test_official_clients.py with the client's own venv:
    .venv-compat/scaleapi01/bin/python py_client.py BASE_URL API_KEY
Only the base URL is changed from what a customer would write. Prints one JSON object with what
each call returned, for the test to check; any unexpected exception fails the run (exit 1).
"""

from __future__ import annotations

import json
import sys
import types

import scaleapi

try:  # 2.x keeps its exceptions in a submodule
    from scaleapi.exceptions import ScaleException
except ImportError:  # 0.1.x
    from scaleapi import ScaleException

BASE, KEY = sys.argv[1].rstrip("/"), sys.argv[2]
CALLBACK = "http://127.0.0.1:9/callback"

CREATE = {
    "categorization": dict(callback_url=CALLBACK, instruction="Is this company public or private?",
                           attachment_type="website", attachment="http://www.google.com/",
                           categories=["public", "private"], category_ids={"1": "public", "2": "private"},
                           allow_multiple=False, urgency="week", metadata={"ref": 7}),
    "transcription": dict(callback_url=CALLBACK, instruction="Write down the fields.",
                          attachment_type="website", attachment="http://www.reddit.com/",
                          fields={"title": "Title of Webpage"}, row_fields={"username": "Submitter"}),
    "phonecall": dict(callback_url=CALLBACK, instruction="Call and ask for the email address",
                      phone_number="5055006865", entity_name="Alexandr Wang", script="Hello!",
                      fields={"email": "Email Address"}),
    "comparison": dict(callback_url=CALLBACK, instruction="Same pattern?", attachment_type="image",
                       attachments=["http://i.ebayimg.com/00/a.JPG", "http://images.wisegeek.com/b.jpg"],
                       choices=["yes", "no"], fields={"why": "Why?"}),
}


def task_json(task) -> dict:
    """The task's JSON as the client holds it (0.1.x: ``param_dict``; 2.x: ``as_dict()``)."""
    if hasattr(type(task), "as_dict"):
        return task.as_dict()
    return dict(task.param_dict)


def error(call) -> dict:
    try:
        call()
    except ScaleException as exc:
        return {"class": type(exc).__name__, "code": getattr(exc, "code", None), "message": str(exc)}
    return {"class": None}


def later_01(create: dict) -> dict:
    """What 0.1.10 sends and 0.1.6 does not: transcription's row fields under their later name
    (its allow-list refuses ``row_fields``), and a phone call's choices."""
    if "repeatable_fields" not in scaleapi.ALLOWED_FIELDS["transcription"]:
        return create
    transcription = dict(create["transcription"])
    transcription["repeatable_fields"] = transcription.pop("row_fields")
    phonecall = {**create["phonecall"], "choices": ["reached", "voicemail", "wrong number"]}
    return {**create, "transcription": transcription, "phonecall": phonecall}


def run_01(out: dict) -> None:
    scaleapi.SCALE_ENDPOINT = BASE + "/v1/"  # the module global; the trailing slash is required
    client = scaleapi.ScaleClient(KEY)
    create = later_01(CREATE)
    created = {
        "categorization": client.create_categorization_task(**create["categorization"]),
        "transcription": client.create_transcription_task(**create["transcription"]),
        "phonecall": client.create_phonecall_task(**create["phonecall"]),
        "comparison": client.create_comparison_task(**create["comparison"]),
    }
    out["created"] = {k: task_json(t) for k, t in created.items()}
    # 0.1.x reads a missing attribute from params: the name sent must come back.
    out["row_fields_attr"] = getattr(created["transcription"], "repeatable_fields"
                                     if "repeatable_fields" in create["transcription"] else "row_fields")
    first = created["categorization"]
    fetched = client.fetch_task(first.id)
    out["fetched"] = task_json(fetched)
    out["fetched_attr_via_params"] = fetched.attachment  # 0.1.x falls through into params
    first.refresh()
    out["refreshed_status"] = first.status
    out["canceled"] = task_json(client.cancel_task(first.id))
    page = client.tasks(limit=2, offset=0)
    out["list"] = {"ids": [t.id for t in page], "total": page.total, "limit": page.limit,
                   "offset": page.offset, "has_more": page.has_more}
    page2 = client.tasks(limit=2, offset=2)
    out["list_page2"] = [t.id for t in page2]
    filtered = client.tasks(status="canceled", type="categorization")
    out["list_filtered"] = [t.id for t in filtered]
    out["errors"] = {
        "fetch_unknown": error(lambda: client.fetch_task("0" * 24)),
        "cancel_twice": error(lambda: client.cancel_task(first.id)),
        "invalid": error(lambda: client.create_categorization_task(
            callback_url=CALLBACK, instruction="x", attachment_type="website",
            attachment="not a url", categories=["a"])),
    }


def run_2(out: dict) -> None:
    from scaleapi.tasks import TaskType

    client = scaleapi.ScaleClient(KEY, api_instance_url=BASE + "/v1")
    kinds = {"categorization": TaskType.Categorization, "transcription": TaskType.Transcription,
             # 2.x has no TaskType for phone calls; create_task reads only ``.value``.
             "phonecall": types.SimpleNamespace(value="phonecall"), "comparison": TaskType.Comparison}
    created = {}
    for i, (name, kind) in enumerate(kinds.items()):
        created[name] = client.create_task(kind, project="compat-project", batch=f"batch-{i % 2}",
                                           unique_id=f"compat-{name}", **CREATE[name])
    out["created"] = {k: task_json(t) for k, t in created.items()}
    first = created["categorization"]
    out["fetched"] = task_json(client.get_task(first.id))
    first.refresh()
    out["refreshed_status"] = first.status
    out["canceled"] = task_json(client.cancel_task(first.id))
    page = client.tasks(project="compat-project", limit=3)
    out["list"] = {"ids": [t.id for t in page.docs], "total": page.total, "limit": page.limit,
                   "has_more": page.has_more, "next_token": page.next_token}
    out["get_tasks"] = [t.id for t in client.get_tasks(project_name="compat-project", limit=1)]
    out["get_tasks_batch"] = [t.id for t in client.get_tasks(batch_name="batch-1", limit=1)]
    out["get_tasks_count"] = client.get_tasks_count(project_name="compat-project")
    out["by_unique_id"] = [t.id for t in client.tasks(project="compat-project", unique_id="compat-phonecall").docs]
    out["errors"] = {
        "duplicate": error(lambda: client.create_task(TaskType.Categorization, unique_id="compat-transcription",
                                                      **CREATE["categorization"])),
        "fetch_unknown": error(lambda: client.get_task("0" * 24)),
        "cancel_twice": error(lambda: client.cancel_task(first.id)),
        "invalid": error(lambda: client.create_task(TaskType.Comparison, callback_url=CALLBACK,
                                                    instruction="x", attachment_type="image",
                                                    attachments=["http://a.example/1.png"], choices=["a"])),
    }


def main() -> None:
    out: dict = {"client": "0.1" if "SCALE_ENDPOINT" in vars(scaleapi) else "2"}
    (run_01 if out["client"] == "0.1" else run_2)(out)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
