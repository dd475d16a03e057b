"""The official clients, unmodified, create each image annotation type against a real server on
loopback (both backends): scaleapi 0.1.10 (its three annotation helpers; it has no point helper),
scaleapi 2.18.4 (all four through create_task, and test mode's simulated drawing read back), and
npm scaleapi 2.3.2 (its four generated helpers). Installed by scripts/test-deps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from taskforce.config import Settings
from tests.compat.test_official_clients import HERE, ROOT, TASK_ID, _need, _run

TYPES = ["annotation", "polygonannotation", "lineannotation", "pointannotation"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The background loops run, so test-key tasks are answered by the simulated worker.
    return Settings(database_url=database_url, secret_key="test-secret", run_dispatcher=True,
                    test_mode_delay_seconds=0.2)


def _python(venv: str, server, customer) -> dict:
    python = ROOT / ".venv-compat" / venv / "bin" / "python"
    _need(python, f"the {venv} client venv")
    return _run([str(python), str(HERE / "annotation_client.py"), server.url, customer.live_key,
                 customer.test_key], HERE)


def _check_created(created: dict, names) -> None:
    assert set(created) == set(names)
    for name, task in created.items():
        assert TASK_ID.match(task["task_id"]) and task["type"] == name and task["status"] == "pending"
        assert task["params"]["attachment"] == "http://i.imgur.com/v4cBreD.jpg"
        assert task["params"]["attachment_type"] == "image" and task["params"]["with_labels"] is True


def _check_drawn(task: dict) -> None:
    assert task["status"] == "completed"
    shapes = task["response"]["annotations"]
    assert 1 <= len(shapes) <= 3
    for shape in shapes:
        assert shape["label"] in task["params"]["objects_to_annotate"]


def test_scaleapi_0_1_10(server, factory):
    customer = factory.customer()
    out = _python("scaleapi0110", server, customer)
    assert out["client"] == "0.1"
    _check_created(out["created"], TYPES[:3])
    box = out["created"]["annotation"]
    assert box["params"]["min_width"] == 30 and box["params"]["layers"] == {
        "boxes": [{"left": 5, "top": 6, "width": 70, "height": 80}]}
    assert box["params"]["examples"][0]["correct"] is False
    assert out["created"]["lineannotation"]["params"]["splines"] is True
    assert out["fetched"]["task_id"] == box["task_id"]
    _check_drawn(out["completed"])
    assert all(s["width"] >= 30 and s["height"] >= 30 for s in out["completed"]["response"]["annotations"])
    invalid = out["errors"]["invalid"]
    assert invalid["class"] == "ScaleInvalidRequest" and invalid["code"] == 400
    assert invalid["message"].startswith("objects_to_annotate:")


def test_scaleapi_2_18_4(server, factory):
    customer = factory.customer()
    out = _python("scaleapi2", server, customer)
    assert out["client"] == "2"
    _check_created(out["created"], TYPES)
    assert all(t["project"] == "annotate" for t in out["created"].values())
    assert out["listed"] == sorted(TYPES)
    for name in TYPES:
        _check_drawn(out["completed"][name])
    vertices = out["completed"]["polygonannotation"]["response"]["annotations"][0]["vertices"]
    assert len(vertices) >= 3 and all(set(v) == {"x", "y"} for v in vertices)
    invalid = out["errors"]["invalid"]
    assert invalid["class"] == "ScaleInvalidRequest" and "attachment: must be an absolute http" in invalid["message"]


def test_npm_scaleapi_2_3_2(server, factory):
    node = shutil.which("node")
    if node is None:
        _need(Path("/nonexistent/node"), "node")
    _need(HERE / "node_modules" / "scaleapi", "the npm scaleapi client")
    customer = factory.customer()
    out = _run([node, str(HERE / "npm_annotation_client.js"), server.url, customer.live_key], HERE)
    created = out["created"]
    assert {t["type"] for t in created.values()} == set(TYPES)
    assert all(TASK_ID.match(t["id"]) and t["status"] == "pending" for t in created.values())
    assert created["polygonannotation"]["params"]["max_vertices"] == 12
    assert out["invalid"]["code"] == 400 and out["invalid"]["message"].startswith("objects_to_annotate:")
