"""The official clients, unmodified, against a real server on loopback (both backends):
PyPI scaleapi 0.1.6 (the newest 0.1.x of 2016), 0.1.10 (the newest 0.1.x) and 2.18.4, and npm
scaleapi 2.3.2.

They are installed, pinned, by scripts/test-deps (.venv-compat/, tests/compat/node_modules);
`make test` runs that first. Where they are missing the tests skip, except in CI (CI=true),
where a missing install step must fail rather than hide behind a skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
TASK_ID = re.compile(r"^[0-9a-f]{24}$")


def _need(path: Path, what: str) -> None:
    if not path.exists():
        message = f"{what} is not installed ({path}): run scripts/test-deps"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _run(argv: list[str], cwd: Path) -> dict:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{argv[0]} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _python_client(venv: str, server, key: str) -> dict:
    python = ROOT / ".venv-compat" / venv / "bin" / "python"
    _need(python, f"the {venv} client venv")
    return _run([str(python), str(HERE / "py_client.py"), server.url, key], HERE)


def _assert_common(out: dict, total_created: int) -> None:
    created = out["created"]
    assert set(created) == {"categorization", "transcription", "phonecall", "comparison"}
    for type_name, task in created.items():
        assert TASK_ID.match(task["task_id"] if "task_id" in task else task["id"])
        assert task["type"] == type_name and task["status"] == "pending"
    assert out["fetched"]["status"] == "pending"
    assert out["canceled"]["status"] == "canceled"
    assert out["errors"]["fetch_unknown"]["code"] == 404
    assert out["errors"]["cancel_twice"]["code"] == 500
    assert "only pending tasks can be canceled" in out["errors"]["cancel_twice"]["message"]
    assert out["errors"]["invalid"]["code"] == 400


def test_scaleapi_0_1_6(server, factory):
    customer = factory.customer()
    out = _python_client("scaleapi01", server, customer.live_key)
    assert out["client"] == "0.1"
    _assert_common(out, 4)
    cat = out["created"]["categorization"]
    assert cat["params"] == {"attachment_type": "website", "attachment": "http://www.google.com/",
                             "categories": ["public", "private"],
                             "category_ids": {"1": "public", "2": "private"}, "allow_multiple": False}
    assert cat["urgency"] == "week" and cat["metadata"] == {"ref": 7}
    assert out["fetched"]["task_id"] == cat["task_id"]
    assert out["fetched_attr_via_params"] == "http://www.google.com/"
    assert out["refreshed_status"] == "pending"
    newest_first = [out["created"][k]["task_id"] for k in ("comparison", "phonecall", "transcription", "categorization")]
    assert out["list"] == {"ids": newest_first[:2], "total": 4, "limit": 2, "offset": 0, "has_more": True}
    assert out["list_page2"] == newest_first[2:]
    assert out["list_filtered"] == [cat["task_id"]]
    assert out["errors"]["invalid"]["class"] == "ScaleInvalidRequest"
    assert "attachment" in out["errors"]["invalid"]["message"]


def test_scaleapi_0_1_10(server, factory):
    """0.1.10 sends transcription's ``repeatable_fields`` (its allow-list refuses ``row_fields``)
    and a phone call's ``choices``: both are kept and answered as sent (the answer's check against
    the choices: tests/integration/test_later_params.py)."""
    customer = factory.customer()
    out = _python_client("scaleapi0110", server, customer.live_key)
    assert out["client"] == "0.1"
    _assert_common(out, 4)
    transcription = out["created"]["transcription"]
    assert transcription["params"] == {"attachment_type": "website", "attachment": "http://www.reddit.com/",
                                       "fields": {"title": "Title of Webpage"},
                                       "repeatable_fields": {"username": "Submitter"}}
    assert out["row_fields_attr"] == {"username": "Submitter"}
    call = out["created"]["phonecall"]
    assert call["params"]["choices"] == ["reached", "voicemail", "wrong number"]


def test_scaleapi_2_18_4(server, factory):
    customer = factory.customer()
    out = _python_client("scaleapi2", server, customer.live_key)
    assert out["client"] == "2"
    _assert_common(out, 4)
    created = out["created"]
    for i, (name, task) in enumerate(created.items()):
        assert task["project"] == "compat-project"
        assert task["batch"] == f"batch-{i % 2}"
        assert task["unique_id"] == f"compat-{name}"
        assert "project" not in task["params"] and "unique_id" not in task["params"]
    ids = {name: t["task_id"] for name, t in created.items()}
    newest_first = [ids[k] for k in ("comparison", "phonecall", "transcription", "categorization")]
    assert out["list"]["ids"] == newest_first[:3]
    assert out["list"]["total"] == 4 and out["list"]["has_more"] is True and out["list"]["next_token"]
    # get_tasks follows next_token until has_more is false: every task exactly once, in order.
    assert out["get_tasks"] == newest_first
    assert out["get_tasks_batch"] == [ids["comparison"], ids["transcription"]]
    assert out["get_tasks_count"] == 4
    assert out["by_unique_id"] == [ids["phonecall"]]
    assert out["errors"]["duplicate"]["class"] == "ScaleDuplicateResource"
    assert out["errors"]["duplicate"]["code"] == 409
    assert "unique_id" in out["errors"]["duplicate"]["message"]
    assert out["errors"]["fetch_unknown"]["class"] == "ScaleResourceNotFound"
    assert out["errors"]["cancel_twice"]["class"] == "ScaleInternalError"
    assert out["errors"]["invalid"]["class"] == "ScaleInvalidRequest"
    assert "attachments" in out["errors"]["invalid"]["message"]


def test_npm_scaleapi_2_3_2(server, factory):
    node = shutil.which("node")
    if node is None:
        _need(Path("/nonexistent/node"), "node")
    _need(HERE / "node_modules" / "scaleapi", "the npm scaleapi client")
    customer = factory.customer()
    out = _run([node, str(HERE / "npm_client.js"), server.url, customer.live_key], HERE)
    created = out["created"]
    assert {t["type"] for t in created.values()} == {"categorization", "transcription", "phonecall", "comparison"}
    assert all(TASK_ID.match(t["id"]) and t["status"] == "pending" for t in created.values())
    assert created["categorization"]["urgency"] == "immediate"
    assert created["categorization"]["metadata"] == {"ref": "npm"}
    # The number is returned exactly as the customer sent it.
    assert created["phonecall"]["params"]["phone_number"] == "+1 505 500 6865"
    assert out["fetched"]["id"] == created["categorization"]["id"]
    assert out["canceled"]["status"] == "canceled"
    newest_first = [created[k]["id"] for k in ("comparison", "phonecall", "transcription", "categorization")]
    assert out["list"]["ids"] == newest_first[:2]
    assert out["list"]["total"] == 4 and out["list"]["has_more"] is True
    assert out["list_page2"] == newest_first[2:]
    assert out["list_filtered"] == [created["categorization"]["id"]]
    errors = out["errors"]
    assert errors["fetch_unknown"]["class"] == "ScaleException" and errors["fetch_unknown"]["code"] == 404
    assert errors["cancel_twice"]["code"] == 500
    assert errors["invalid"]["code"] == 400 and "attachments" in errors["invalid"]["message"]
