"""scaleapi 2.18.4, unmodified, through every project, batch, file and task-extra method against a
live server on loopback (both backends), with the dispatcher and the simulated worker running:
projects' defaults, a batch held until finalised and then answered, its one signed callback,
stored files as attachments, tags, audits and the later list filters."""

from __future__ import annotations

import json

import pytest

from taskforce.app import create_app
from tests.conftest import LiveServer
from tests.integration.test_callback_helpers import Answer, Receiver

from tests.integration.test_files import PNG
from .test_official_clients import HERE, ROOT, _need, _run


@pytest.fixture
def busy_server(settings, db):
    """The app with its background loops (dispatcher, simulated worker), as ``serve`` runs it."""
    app = create_app(settings.model_copy(update={"run_dispatcher": True}), db)
    with LiveServer(app) as live:
        yield live


def test_scaleapi_2_later_surface(busy_server, factory):
    python = ROOT / ".venv-compat" / "scaleapi2" / "bin" / "python"
    _need(python, "the scaleapi2 client venv")
    customer = factory.customer()
    answer = Answer(body=PNG, headers={"Content-Type": "image/png"})
    with Receiver(answer=answer) as receiver:
        out = _run([str(python), str(HERE / "py_client_later.py"), busy_server.url, customer.test_key,
                    receiver.url], HERE)
        batch_callbacks = [json.loads(r.body) for r in receiver.wait_for(4)
                           if r.path == "/callback" and b'"counts"' in r.body]
    assert out["project"] == {"name": "compat/project", "type": "categorization", "version": 0,
                              "instruction": "Is it a cat?"}
    assert out["project_updated"]["version"] == 1 and out["project_updated"]["params"]["urgency"] == "week"
    assert out["project_fetched"] == {"instruction": "Is it a cat?", "categories": ["cat", "not cat"],
                                      "urgency": "week"}
    assert out["projects"] == ["compat/project"]
    assert out["project_duplicate"]["class"] == "ScaleDuplicateResource"

    for key in ("uploaded", "imported"):
        assert out[key]["attachment_url"] == "scaledata://" + out[key]["id"]
        assert out[key]["mime_type"] == "image/png" and out[key]["size"] == len(PNG)
    assert out["uploaded"]["reference_id"] == "ref-7" and out["imported"]["display_name"] == "Imported"

    assert out["batch"] == {"name": "compat-batch", "status": "staging", "project": "compat/project",
                            "metadata": {"n": 1}}
    assert out["batch_duplicate"]["class"] == "ScaleDuplicateResource"
    for i, task in enumerate(out["created"]):
        # The project's defaults under the task's own parameters.
        assert task["instruction"] == "Is it a cat?" and task["urgency"] == "week"
        assert task["params"]["categories"] == ["cat", "not cat"]
        assert task["params"]["attachment"] == (out["uploaded"], out["imported"])[i]["attachment_url"]
    assert out["status_staging"] == {"status": "staging", "pending": 2, "completed": 0, "canceled": 0, "error": 0}
    assert out["batch_metadata"] == {"n": 2}
    assert out["batches"] == {"names": ["compat-batch"], "total": 1}
    assert out["get_batches"] == ["compat-batch"]
    assert out["finalized_status"] == "in_progress"
    assert out["batch_completed"] is True
    assert out["batch_counts"] == {"pending": 0, "completed": 2, "error": 0, "canceled": 0}

    task = out["task_after"]
    first, second = (t["task_id"] for t in out["created"])
    assert task["metadata"] == {"checked": True} and task["tags"] == ["b", "c"]
    assert task["unique_id"] == "renamed" and task["status"] == "completed"
    assert task["customer_review_status"] == "rejected"
    assert task["customer_review_comments"] == ["The cat is a dog"]
    assert out["duplicate_unique_id"]["class"] == "ScaleDuplicateResource"
    assert out["cleared"] is True
    assert out["by_tags"] == [first]
    assert out["by_review"] == [first]
    assert out["by_review_list"] == sorted([first, second])
    assert out["completed_after"] == 2 and out["updated_after_future"] == 0
    assert out["unique_id_reused"] == "to-free"
    assert out["not_found"]["class"] == "ScaleResourceNotFound"

    assert len(batch_callbacks) == 1
    assert batch_callbacks[0]["batch"]["name"] == "compat-batch"
    assert batch_callbacks[0]["counts"]["completed"] == 2
