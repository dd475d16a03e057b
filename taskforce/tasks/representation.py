"""The task object as the API prints it (seed: "Task Object")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskforce.clock import format_ms

#: Columns needed to print a task; queries select these and nothing more.
TASK_COLUMNS = (
    "id", "type", "status", "urgency", "instruction", "callback_url", "params", "metadata",
    "response", "created_at", "completed_at", "callback_succeeded", "project", "batch", "unique_id",
    "tags", "customer_review_status", "customer_review_comments", "updated_at", "quality",
)

#: Shown on the task only when set (scaleapi 2.x's grouping and de-duplication).
_OPTIONAL = ("project", "batch", "unique_id", "customer_review_status", "customer_review_comments")


def task_object(row: Mapping[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "task_id": row["id"],
        "created_at": format_ms(row["created_at"]),
        "callback_url": row["callback_url"],
        "type": row["type"],
        "status": row["status"],
        "instruction": row["instruction"],
        "urgency": row["urgency"],
        "params": row["params"],
        "metadata": row["metadata"],
        "tags": row.get("tags") or [],
        # Null in the database until the first change after creation (migration 0005's trigger).
        "updated_at": format_ms(row.get("updated_at") or row["created_at"]),
    }
    for name in _OPTIONAL:
        if row.get(name) is not None:
            obj[name] = row[name]
    if row["status"] == "completed":
        obj["completed_at"] = format_ms(row["completed_at"])
        obj["response"] = row["response"]
        obj["callback_succeeded"] = row["callback_succeeded"]
    if row.get("quality") is not None:
        # Tasks that collected several answers (or went to review) say how the response was made.
        obj["quality"] = {k: v for k, v in row["quality"].items() if k != "weights"}
    return obj
