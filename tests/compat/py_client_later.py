"""Drive scaleapi 2.x's project, batch, file and task-extra methods against a Taskforce server.

Run by tests/compat/test_official_clients_later.py with the pinned client's venv:
    .venv-compat/scaleapi2/bin/python py_client_later.py BASE_URL TEST_API_KEY RECEIVER_URL
The key is a test-mode key, so the server's simulated worker answers tasks about a second after
they become workable. Prints one JSON object with what each call returned; any unexpected
exception fails the run (exit 1).
"""

from __future__ import annotations

import io
import json
import sys
import time

import scaleapi
from scaleapi.batches import BatchStatus
from scaleapi.exceptions import ScaleException
from scaleapi.tasks import TaskReviewStatus, TaskType

BASE, KEY, RECEIVER = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000185d7a8f30000000049454e44ae426082")


def error(call) -> dict:
    try:
        call()
    except ScaleException as exc:
        return {"class": type(exc).__name__, "code": getattr(exc, "code", None), "message": str(exc)}
    return {"class": None}


def wait_for(check, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def main() -> None:
    client = scaleapi.ScaleClient(KEY, api_instance_url=BASE + "/v1")
    out: dict = {}

    # Projects
    project = client.create_project("compat/project", TaskType.Categorization,
                                    params={"instruction": "Is it a cat?", "categories": ["cat", "not cat"]})
    out["project"] = {"name": project.name, "type": project.type, "version": project.version,
                      "instruction": project.instruction}
    updated = client.update_project("compat/project", urgency="week")
    out["project_updated"] = {"version": updated.version, "params": updated.params}
    out["project_fetched"] = client.get_project("compat/project").as_dict()["params"]
    out["projects"] = [p.name for p in client.get_projects()]
    out["project_duplicate"] = error(lambda: client.create_project("compat/project", TaskType.Categorization))

    # Files
    uploaded = client.upload_file(io.BytesIO(PNG), reference_id="ref-7")
    imported = client.import_file(RECEIVER.rsplit("/", 1)[0] + "/cat.png", display_name="Imported")
    out["uploaded"] = uploaded.as_dict()
    out["imported"] = imported.as_dict()

    # Batches
    batch = client.create_batch("compat/project", "compat-batch", callback=RECEIVER, metadata={"n": 1})
    out["batch"] = {"name": batch.name, "status": batch.status, "project": batch.project,
                    "metadata": batch.metadata}
    out["batch_duplicate"] = error(lambda: client.create_batch("compat/project", "compat-batch"))
    created = [client.create_task(TaskType.Categorization, project="compat/project", batch="compat-batch",
                                  callback_url=RECEIVER, attachment_type="image",
                                  attachment=file.attachment_url, unique_id=f"later-{i}")
               for i, file in enumerate((uploaded, imported))]
    out["created"] = [t.as_dict() for t in created]
    time.sleep(1.5)  # longer than the simulated worker's delay: held tasks stay pending
    out["status_staging"] = client.batch_status("compat-batch")
    out["batch_fetched"] = client.get_batch("compat-batch").as_dict()
    out["batch_metadata"] = client.set_batch_metadata("compat-batch", {"n": 2}).metadata
    page = client.batches(project="compat/project", limit=10)
    out["batches"] = {"names": [b.name for b in page.docs], "total": page.total}
    out["get_batches"] = [b.name for b in client.get_batches(project_name="compat/project",
                                                             batch_status=BatchStatus.Staging)]
    finalized = client.finalize_batch("compat-batch")
    out["finalized_status"] = finalized.status
    done = wait_for(lambda: client.get_batch("compat-batch").status == "completed")
    out["batch_completed"] = bool(done)
    batch_obj = client.get_batch("compat-batch")
    batch_obj.get_status()
    out["batch_counts"] = {"pending": batch_obj.tasks_pending, "completed": batch_obj.tasks_completed,
                           "error": batch_obj.tasks_error, "canceled": batch_obj.tasks_canceled}

    # Task extras
    task = client.get_task(created[0].id)
    task.set_metadata({"checked": True})
    task.set_tags(["a", "b"])
    task.add_tags(["c"])
    task.delete_tags(["a"])
    task.update_unique_id("renamed")
    out["duplicate_unique_id"] = error(lambda: client.update_task_unique_id(created[1].id, "renamed"))
    task.audit(False, "The cat is a dog")
    task.refresh()
    out["task_after"] = task.as_dict()
    client.clear_task_unique_id(created[1].id)
    out["cleared"] = "unique_id" not in client.get_task(created[1].id).as_dict()
    out["by_tags"] = [t.id for t in client.tasks(project="compat/project", tags=["c", "zzz"]).docs]
    out["by_review"] = [t.id for t in client.get_tasks(project_name="compat/project",
                                                       review_status=TaskReviewStatus.Rejected)]
    out["by_review_list"] = sorted(t.id for t in client.get_tasks(
        project_name="compat/project", review_status=[TaskReviewStatus.Rejected, TaskReviewStatus.Pending]))
    out["completed_after"] = client.get_tasks_count(project_name="compat/project",
                                                    completed_after="2000-01-01 00:00:00.000000")
    out["updated_after_future"] = client.get_tasks_count(project_name="compat/project",
                                                         updated_after="2999-01-01 00:00:00.000000")
    # cancel_task(clear_unique_id=True): a held task (in a batch still staging) stays pending.
    client.create_batch("compat/project", "waiting")
    pending = client.create_task(TaskType.Categorization, project="compat/project", batch="waiting",
                                 callback_url=RECEIVER, attachment_type="text", attachment="x",
                                 unique_id="to-free")
    client.cancel_task(pending.id, clear_unique_id=True)
    again = client.create_task(TaskType.Categorization, project="compat/project", callback_url=RECEIVER,
                               attachment_type="text", attachment="y", unique_id="to-free")
    out["unique_id_reused"] = again.as_dict()["unique_id"]
    out["not_found"] = error(lambda: client.get_batch("no-such-batch"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
