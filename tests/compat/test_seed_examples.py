"""Every curl, Python ``requests`` and Node ``request`` example of the seed, run as written with
only the host (and the placeholders YOUR_API_KEY / {task_id} / YOUR_TASK_ID) replaced, against a
real server on loopback, on both backends.

The examples are read from tests/compat/seed/scale-api-v1.md, a copy of the seed kept in the repo
so the test needs nothing outside it (a test below checks the copy against ../shared/seed when
that is present). What each one gets back is compared with what the seed documents; the three
places where the seed's own text is not what running it gives are asserted and explained in the
README (section api): the list's shape, a Python example that uses ``json`` without importing it,
and a curl example whose ``$T2eC…`` the shell expands.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SEED = HERE / "seed" / "scale-api-v1.md"
SHARED_SEED = HERE.parent.parent.parent / "shared" / "seed" / "scale-api-v1.md"
HOST = "https://api.scaleapi.com"
TASK_ID = re.compile(r"^[0-9a-f]{24}$")
LANGS = ("shell", "python", "javascript")


def examples() -> dict[str, dict[str, str]]:
    """{section heading: {language: code}} for every fenced block of the seed."""
    text = SEED.read_text()
    out: dict[str, dict[str, str]] = {}
    section = ""
    for m in re.finditer(r"^(#{1,2}) ([^\n]+)$|^```(\w+)\n(.*?)^```", text, re.M | re.S):
        if m.group(1):
            section = m.group(2).strip()
        else:
            out.setdefault(section, {})[m.group(3)] = m.group(4)
    return out


EXAMPLES = examples()
CREATES = {"Create Categorization Task": "categorization", "Create Transcription Task": "transcription",
           "Create Phone Call Task": "phonecall", "Create Comparison Task": "comparison"}


def test_the_copy_is_the_seed():
    if not SHARED_SEED.exists():
        pytest.skip("no ../shared/seed beside this checkout")
    assert SEED.read_text() == SHARED_SEED.read_text()


def test_every_example_is_covered():
    runnable = {s for s, blocks in EXAMPLES.items() if set(LANGS) <= set(blocks)}
    # Authentication's examples call the placeholder "api_endpoint_here"; every other is run below.
    assert runnable - {"Authentication"} == set(CREATES) | {"Retrieve a Task", "Cancel a task", "List All Tasks"}


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "request").exists():
        message = "node and tests/compat/node_modules (scripts/test-deps) are needed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return node


def _substitute(code: str, server, key: str, task_id: str | None) -> str:
    code = code.replace(HOST, server.url).replace("YOUR_API_KEY", key)
    if task_id:
        code = code.replace("{task_id}", task_id).replace("YOUR_TASK_ID", task_id)
    return code


def run_example(lang: str, code: str, server, key: str, tmp_path: Path, task_id: str | None = None) -> dict:
    """Runs it; returns {"status": int|None, "body": parsed JSON, "error": str|None}."""
    code = _substitute(code, server, key, task_id)
    script = tmp_path / {"shell": "example.sh", "python": "example.py", "javascript": "example.js"}[lang]
    script.write_text(code)
    if lang == "shell":
        # A fresh folder: `fields[email]=…` is a glob that must match no file, as in any shell.
        done = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return {"status": None, "body": json.loads(done.stdout), "error": None}
    if lang == "python":
        done = subprocess.run([sys.executable, str(HERE / "seed_python.py"), str(script)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert len(report["responses"]) == 1, report
        response = report["responses"][0]
        assert response["content_type"] == "application/json"
        return {"status": response["status"], "body": json.loads(response["body"]),
                "error": report["error"], "sent": response["sent"]}
    node = _node()
    done = subprocess.run([node, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "NODE_PATH": str(HERE / "node_modules")})
    assert done.returncode == 0, done.stderr
    # The examples print the body on a 200, else the error and the status code.
    return {"status": 200, "body": json.loads(done.stdout), "error": None}


def _documented(section: str) -> dict:
    return json.loads(EXAMPLES[section]["json"])


def _expected_params(type_name: str, lang: str) -> dict:
    google, reddit = "http://www.google.com/", "http://www.reddit.com/"
    ebay = "http://i.ebayimg.com/00/$T2eC16dHJGwFFZKjy5ZjBRfNyMC4Ig~~_32.JPG"
    if type_name == "categorization":
        return {"attachment_type": "website", "attachment": google, "categories": ["public", "private"]}
    if type_name == "transcription":
        # The curl example posts reddit (as the documented response shows); the others google.
        return {"attachment_type": "website", "attachment": reddit if lang == "shell" else google,
                "fields": {"title": "Title of Webpage", "top_result": "Title of the top result"},
                "row_fields": {"username": "Username of submitter", "comment_count": "Number of comments"}}
    if type_name == "phonecall":
        return {"phone_number": "5055006865", "entity_name": "Alexandr Wang", "fields": {"email": "Email Address"}}
    if lang == "shell":
        # Inside double quotes bash expands $T2eC16dHJGwFFZKjy5ZjBRfNyMC4Ig (unset) to nothing.
        ebay = "http://i.ebayimg.com/00/~~_32.JPG"
    return {"attachment_type": "image", "choices": ["yes", "no"],
            "attachments": [ebay, "http://images.wisegeek.com/checkered-tablecloth.jpg"]}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("section", list(CREATES))
def test_create_examples(server, factory, tmp_path, section, lang):
    customer = factory.customer()
    result = run_example(lang, EXAMPLES[section][lang], server, customer.live_key, tmp_path)
    task = result["body"]
    assert result["status"] in (None, 200), task
    assert result["error"] is None
    documented = _documented(section)
    type_name = CREATES[section]
    # Every key the seed shows, with the same type and status; ours add urgency, metadata, tags
    # and updated_at (scaleapi 2.x reads the last two).
    assert set(documented) <= set(task)
    assert set(task) - set(documented) == {"urgency", "metadata", "tags", "updated_at"}
    assert TASK_ID.match(task["task_id"])
    assert task["type"] == documented["type"] == type_name
    assert task["status"] == documented["status"] == "pending"
    assert task["callback_url"] == "http://www.example.com/callback"
    assert task["params"] == _expected_params(type_name, lang)
    if type_name in ("categorization", "phonecall") or (type_name == "transcription" and lang == "shell"):
        assert task["params"] == documented["params"]
    assert task["urgency"] == "day" and task["metadata"] == {}


@pytest.mark.parametrize("lang", LANGS)
def test_retrieve_examples(server, factory, tmp_path, lang):
    customer = factory.customer()
    task = factory.task(customer)
    result = run_example(lang, EXAMPLES["Retrieve a Task"][lang], server, customer.live_key, tmp_path, task["id"])
    assert result["status"] in (None, 200)
    body = result["body"]
    assert body["task_id"] == task["id"] and body["status"] == "pending"
    assert set(body) >= set(_documented("Retrieve a Task")) - {"completed_at", "response"}
    if lang == "python":
        # The seed's example calls json.loads without `import json`: the request succeeds, then
        # the snippet's next line fails. That is the example's own bug (README, section api).
        assert result["error"] == "NameError: name 'json' is not defined"
    else:
        assert result["error"] is None


@pytest.mark.parametrize("lang", LANGS)
def test_cancel_examples(server, factory, tmp_path, lang):
    customer = factory.customer()
    task = factory.task(customer)
    result = run_example(lang, EXAMPLES["Cancel a task"][lang], server, customer.live_key, tmp_path, task["id"])
    assert result["status"] in (None, 200) and result["error"] is None
    body = result["body"]
    assert body["task_id"] == task["id"]
    assert body["status"] == _documented("Cancel a task")["status"] == "canceled"
    # Run again, the task is no longer pending: the seed's documented 500, with a JSON reason.
    again = run_example(lang, EXAMPLES["Cancel a task"][lang], server, customer.live_key,
                        tmp_path, task["id"]) if lang != "javascript" else None
    if again is not None:
        assert again["body"]["status_code"] == 500
        assert "only pending tasks can be canceled" in again["body"]["error"]


@pytest.mark.parametrize("lang", LANGS)
def test_list_examples(server, factory, tmp_path, lang):
    customer = factory.customer()
    made = [factory.task(customer, now=1_700_000_000_000 + i)["id"] for i in range(3)]
    result = run_example(lang, EXAMPLES["List All Tasks"][lang], server, customer.live_key, tmp_path)
    assert result["status"] in (None, 200) and result["error"] is None
    body = result["body"]
    # The seed shows a bare array; every published client reads this object (README, section api).
    assert isinstance(_documented("List All Tasks"), list)
    assert set(body) == {"docs", "total", "limit", "offset", "has_more", "next_token"}
    assert [d["task_id"] for d in body["docs"]] == list(reversed(made))
    assert body["total"] == 3 and body["has_more"] is False and body["next_token"] is None
    documented_keys = set(_documented("List All Tasks")[0]) - {"completed_at", "response"}
    assert all(documented_keys <= set(d) for d in body["docs"])
