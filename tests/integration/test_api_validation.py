"""Every validation case of the contract, through the API on both backends: a 400 whose JSON
``error`` starts with the parameter's name, and no task created."""

from __future__ import annotations

import pytest

from tests.factories import VALID_PARAMS

ENDPOINT = {"categorization": "categorize", "transcription": "transcription",
            "phonecall": "phonecall", "comparison": "comparison"}
DROP = object()  # "leave this parameter out"

# (type, changes to the valid body, the parameter the error must name)
CASES: list[tuple[str, dict, str]] = []
for _t in ENDPOINT:
    CASES += [
        (_t, {"callback_url": DROP}, "callback_url"),
        (_t, {"instruction": DROP}, "instruction"),
        (_t, {"instruction": ""}, "instruction"),
        (_t, {"instruction": 7}, "instruction"),
        (_t, {"callback_url": "www.example.com/callback"}, "callback_url"),
        (_t, {"callback_url": "ftp://example.com/callback"}, "callback_url"),
        (_t, {"callback_url": "javascript:alert(1)"}, "callback_url"),
        (_t, {"callback_url": "http://"}, "callback_url"),
        (_t, {"callback_url": ["http://example.com/"]}, "callback_url"),
        (_t, {"urgency": "soon"}, "urgency"),
        (_t, {"urgency": 1}, "urgency"),
        (_t, {"metadata": "text"}, "metadata"),
        (_t, {"metadata": [1, 2]}, "metadata"),
        (_t, {"unique_id": ""}, "unique_id"),
        (_t, {"unique_id": "x" * 201}, "unique_id"),
        (_t, {"project": 5}, "project"),
    ]
CASES += [
    # categorization
    ("categorization", {"attachment_type": DROP}, "attachment_type"),
    ("categorization", {"attachment": DROP}, "attachment"),
    ("categorization", {"categories": DROP}, "categories"),
    ("categorization", {"attachment_type": "gif"}, "attachment_type"),
    ("categorization", {"attachment": "not a url"}, "attachment"),
    ("categorization", {"attachment_type": "image", "attachment": "/relative/path.png"}, "attachment"),
    ("categorization", {"categories": []}, "categories"),
    ("categorization", {"categories": "public"}, "categories"),  # JSON says what it means
    ("categorization", {"categories": ["public", 2]}, "categories[1]"),
    ("categorization", {"categories": ["public", ""]}, "categories[1]"),
    ("categorization", {"categories": ["public", "public"]}, "categories"),
    ("categorization", {"category_ids": {"1": "public", "2": "nope"}}, "category_ids[2]"),
    ("categorization", {"category_ids": {"1": "public", "2": "public"}}, "category_ids"),
    ("categorization", {"category_ids": {"1": 5}}, "category_ids[1]"),
    ("categorization", {"category_ids": ["public"]}, "category_ids"),
    ("categorization", {"allow_multiple": "maybe"}, "allow_multiple"),
    ("categorization", {"allow_multiple": 1}, "allow_multiple"),
    ("categorization", {"allow_multiple": "true"}, "allow_multiple"),  # JSON has real booleans
    # transcription
    ("transcription", {"fields": DROP}, "fields"),
    ("transcription", {"fields": {}}, "fields"),
    ("transcription", {"fields": "title"}, "fields"),
    ("transcription", {"fields": ["title"]}, "fields"),
    ("transcription", {"fields": {"title": 1}}, "fields[title]"),
    ("transcription", {"fields": {"title": {"a": "b"}}}, "fields[title]"),
    ("transcription", {"fields": {"": "empty key"}}, "fields"),
    ("transcription", {"row_fields": "rows"}, "row_fields"),
    ("transcription", {"row_fields": {"username": None}}, "row_fields[username]"),
    ("transcription", {"row_fields": ["username"]}, "row_fields"),
    ("transcription", {"attachment": "reddit"}, "attachment"),
    ("transcription", {"attachment_type": "webpage"}, "attachment_type"),
    # phonecall
    ("phonecall", {"phone_number": DROP}, "phone_number"),
    ("phonecall", {"entity_name": DROP}, "entity_name"),
    ("phonecall", {"entity_name": ""}, "entity_name"),
    ("phonecall", {"phone_number": "123"}, "phone_number"),
    ("phonecall", {"phone_number": "call me"}, "phone_number"),
    ("phonecall", {"phone_number": "+1 505 500 68650000"}, "phone_number"),
    ("phonecall", {"phone_number": 5055006865}, "phone_number"),
    ("phonecall", {"attachment": "not a url"}, "attachment"),
    ("phonecall", {"attachment_type": "fax", "attachment": "http://example.com/a"}, "attachment_type"),
    ("phonecall", {"fields": {"email": 3}}, "fields[email]"),
    # comparison
    ("comparison", {"attachments": DROP}, "attachments"),
    ("comparison", {"attachments": ["http://a.example/only.png"]}, "attachments"),
    ("comparison", {"attachments": []}, "attachments"),
    ("comparison", {"attachments": "http://a.example/1.png"}, "attachments"),
    ("comparison", {"attachments": ["http://a.example/1.png", "not a url"]}, "attachments[1]"),
    ("comparison", {"choices": DROP}, "choices"),
    ("comparison", {"choices": [], "fields": DROP}, "choices"),
    ("comparison", {"choices": ["yes", "yes"]}, "choices"),
    ("comparison", {"attachment_type": "sound"}, "attachment_type"),
]


def _body(type_name: str, changes: dict) -> dict:
    body = dict(VALID_PARAMS[type_name])
    for key, value in changes.items():
        if value is DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def test_invalid_parameter_is_a_400_naming_it(client, factory):
    # One app and database for the whole table (a fresh one per case would take minutes);
    # every case is checked and all mismatches reported together.
    customer = factory.customer()
    wrong = []
    for type_name, changes, param in CASES:
        r = client.post(f"/v1/task/{ENDPOINT[type_name]}", json=_body(type_name, changes),
                        auth=customer.live_auth)
        body = r.json()
        if not (r.status_code == 400 and body.get("status_code") == 400
                and body.get("error", "").startswith(f"{param}: ")):
            wrong.append((type_name, changes, param, r.status_code, body))
    assert not wrong, "\n".join(map(repr, wrong))
    assert client.get("/v1/tasks", auth=customer.live_auth).json()["total"] == 0
    assert len(CASES) > 100


@pytest.mark.parametrize("type_name,changes", [
    ("categorization", {"attachment_type": "text", "attachment": "not a url, plain text"}),
    ("categorization", {"allow_multiple": True, "category_ids": {"1": "public", "2": "private"}}),
    ("transcription", {"attachment_type": "text", "attachment": "Some text to copy", "row_fields": DROP}),
    ("phonecall", {"phone_number": "+44 20 7946 0958"}),
    ("phonecall", {"phone_number": "(505) 500-6865"}),
    ("phonecall", {"phone_number": "+1-505-500-6865", "attachment_type": "text", "attachment": "notes"}),
    ("comparison", {"choices": DROP, "fields": {"why": "Why?"}}),
    ("comparison", {"attachment_type": "text", "attachments": ["first text", "second text", "third"]}),
])
def test_valid_edge_cases_are_accepted_as_sent(client, factory, type_name, changes):
    customer = factory.customer()
    body = _body(type_name, changes)
    r = client.post(f"/v1/task/{ENDPOINT[type_name]}", json=body, auth=customer.live_auth)
    assert r.status_code == 200, r.text
    params = r.json()["params"]
    for key, value in body.items():
        if key in params:
            assert params[key] == value  # e.g. the phone number exactly as the customer wrote it


@pytest.mark.parametrize("type_name", list(ENDPOINT))
def test_urgency_and_metadata_on_every_type(client, factory, type_name):
    customer = factory.customer()
    metadata = {"order": 17, "tags": ["a", "b"], "nested": {"x": None, "y": 1.5, "z": True}, "unicode": "é✓"}
    for urgency in ("immediate", "day", "week"):
        r = client.post(f"/v1/task/{ENDPOINT[type_name]}", auth=customer.live_auth,
                        json={**VALID_PARAMS[type_name], "urgency": urgency, "metadata": metadata})
        assert r.status_code == 200, r.text
        task = r.json()
        assert task["urgency"] == urgency and task["metadata"] == metadata
        assert client.get(f"/v1/task/{task['task_id']}", auth=customer.live_auth).json() == task
    default = client.post(f"/v1/task/{ENDPOINT[type_name]}", json=VALID_PARAMS[type_name], auth=customer.live_auth)
    assert default.json()["urgency"] == "day" and default.json()["metadata"] == {}


def test_categorization_alias_is_the_same_endpoint(client, factory):
    customer = factory.customer()
    a = client.post("/v1/task/categorize", json=VALID_PARAMS["categorization"], auth=customer.live_auth)
    b = client.post("/v1/task/categorization", json=VALID_PARAMS["categorization"], auth=customer.live_auth)
    assert a.status_code == b.status_code == 200
    assert {k: v for k, v in a.json().items() if k not in ("task_id", "created_at", "updated_at")} == \
           {k: v for k, v in b.json().items() if k not in ("task_id", "created_at", "updated_at")}
    bad = client.post("/v1/task/categorization", json={**VALID_PARAMS["categorization"], "categories": []},
                      auth=customer.live_auth)
    assert bad.status_code == 400 and bad.json()["error"].startswith("categories: ")
