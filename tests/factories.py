"""Test data with overridable defaults, written through the real services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from taskforce import accounts, customers
from taskforce.db import Database
from taskforce.task_types import REGISTRY
from taskforce.tasks import service

_seq = itertools.count(1)

PASSWORD = "correct horse battery"

#: A valid create body per task type, as the seed's examples have them.
VALID_PARAMS: dict[str, dict[str, Any]] = {
    "categorization": {
        "callback_url": "http://www.example.com/callback",
        "instruction": "Is this company public or private?",
        "attachment_type": "website",
        "attachment": "http://www.google.com/",
        "categories": ["public", "private"],
    },
    "transcription": {
        "callback_url": "http://www.example.com/callback",
        "instruction": "Write down the fields.",
        "attachment_type": "website",
        "attachment": "http://www.reddit.com/",
        "fields": {"title": "Title of Webpage", "top_result": "Title of the top result"},
        "row_fields": {"username": "Username of submitter", "comment_count": "Number of comments"},
    },
    "phonecall": {
        "callback_url": "http://www.example.com/callback",
        "instruction": "Call this person and tell me his email address",
        "phone_number": "5055006865",
        "entity_name": "Alexandr Wang",
        "script": "Hello ! Who am I speaking with?",
        "fields": {"email": "Email Address"},
    },
    "comparison": {
        "callback_url": "http://www.example.com/callback",
        "instruction": "Do the objects in these images have the same pattern?",
        "attachment_type": "image",
        "attachments": ["http://i.ebayimg.com/00/a.JPG", "http://images.wisegeek.com/b.jpg"],
        "choices": ["yes", "no"],
    },
    # Image annotation (scale-api-later.md): Scale's own examples, image host changed.
    "annotation": {
        "callback_url": "http://www.example.com/callback",
        "instruction": "Draw a box around each baby cow and big cow.",
        "attachment_type": "image",
        "attachment": "http://i.imgur.com/v4cBreD.jpg",
        "objects_to_annotate": ["baby cow", "big cow"],
        "with_labels": True,
        "min_width": 30,
        "min_height": 30,
    },
    "polygonannotation": {
        "callback_url": "http://www.example.com/callback",
        "instruction": "Draw a tight polygon around every car.",
        "attachment_type": "image",
        "attachment": "http://i.imgur.com/XOJbalC.jpg",
        "objects_to_annotate": ["car", "suv"],
        "with_labels": True,
        "min_vertices": 4,
        "max_vertices": 15,
    },
    "lineannotation": {
        "callback_url": "http://www.example.com/callback",
        "instruction": "Draw a line along each lane marking.",
        "attachment_type": "image",
        "attachment": "http://i.imgur.com/XOJbalC.jpg",
        "objects_to_annotate": ["solid line", "dashed line"],
        "with_labels": True,
        "splines": True,
    },
    "pointannotation": {
        "callback_url": "http://www.example.com/callback",
        "instruction": "Put a point on the head of each person.",
        "attachment_type": "image",
        "attachment": "http://i.imgur.com/XOJbalC.jpg",
        "objects_to_annotate": ["head"],
        "with_labels": True,
    },
}


@dataclass
class Customer:
    id: int
    name: str
    live_key: str
    test_key: str

    @property
    def live_auth(self) -> tuple[str, str]:
        return (self.live_key, "")

    @property
    def test_auth(self) -> tuple[str, str]:
        return (self.test_key, "")


class Factory:
    def __init__(self, db: Database) -> None:
        self.db = db

    def customer(self, name: str | None = None) -> Customer:
        name = name or f"customer-{next(_seq)}"
        with self.db.write() as conn:
            cid = customers.create_customer(conn, name)
            live = customers.create_api_key(conn, cid, "live")
            test = customers.create_api_key(conn, cid, "test")
        return Customer(cid, name, live, test)

    def user(self, role: str = "worker", *, email: str | None = None, customer_id: int | None = None,
             password: str = PASSWORD) -> dict[str, Any]:
        email = email or f"{role}{next(_seq)}@example.test"
        with self.db.write() as conn:
            uid = accounts.create_user(conn, email, password, role, customer_id=customer_id)
            return accounts.get_user(conn, uid)

    def task(self, customer: Customer, type_name: str = "categorization", *, is_test: bool = False,
             now: int | None = None, **overrides: Any) -> dict[str, Any]:
        task_type = REGISTRY.get(type_name)
        params = task_type.parse({**VALID_PARAMS[type_name], **overrides})
        with self.db.write() as conn:
            return service.create(conn, customer_id=customer.id, is_test=is_test, task_type=task_type,
                                  params=params, now=now)
