"""The decoding table of tests/unit/test_bodies_table.py through the API, on both backends:
every encoding of the same parameters makes the same task."""

from __future__ import annotations

import pytest

from tests.unit.test_bodies_table import JSON, TABLE

ENDPOINT = {"categorization": "categorize", "transcription": "transcription", "comparison": "comparison"}
_VOLATILE = ("task_id", "created_at", "updated_at")


def _same(task: dict) -> dict:
    return {k: v for k, v in task.items() if k not in _VOLATILE}


@pytest.mark.parametrize("name,type_name,content_type,body,expected", TABLE, ids=[row[0] for row in TABLE])
def test_every_encoding_makes_the_same_task(client, factory, name, type_name, content_type, body, expected):
    customer = factory.customer()
    url = f"/v1/task/{ENDPOINT[type_name]}"
    reference = client.post(url, json=expected, auth=customer.live_auth)
    assert reference.status_code == 200, reference.text
    r = client.post(url, content=body, headers={"content-type": content_type}, auth=customer.live_auth)
    assert r.status_code == 200, r.text
    assert _same(r.json()) == _same(reference.json())
    assert r.json()["metadata"] == expected.get("metadata", {})
    # Stored as sent: reading it back gives the same again.
    fetched = client.get(f"/v1/task/{r.json()['task_id']}", auth=customer.live_auth).json()
    assert _same(fetched) == _same(reference.json())


def test_json_rows_are_in_the_table():
    assert any(row[2] == JSON for row in TABLE)
