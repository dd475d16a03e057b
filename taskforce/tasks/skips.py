"""Why workers skip: the reasons a worker picks from when skipping, the note they may add, and
what operators read back (recent skips with a reason, tasks whose attachment was flagged broken,
one task's skips).

A skip's ``reason`` is one text: the chosen reason's words, then ``": "`` and the worker's note
when there is one ("instructions unclear: the text is in French"). "Flag broken attachment" is a
skip with the reason ``ATTACHMENT_BROKEN``. Reasons are worker text: pages escape them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from taskforce.models import task_skips, tasks, users

ATTACHMENT_BROKEN = "attachment broken"
#: What the skip form offers, by the value its ``<select>`` sends; the words are stored.
REASONS = {
    "attachment_broken": ATTACHMENT_BROKEN,
    "unclear": "instructions unclear",
    "cannot": "cannot do this task",
    "other": "other",
}
#: The worker's own words, at most this long (the column holds a reason, ": " and the note).
MAX_NOTE = 500


def reason_text(code: str, note: str) -> str | None:
    """The stored reason for a skip form's choice and note; None when neither says anything (a
    plain skip). An unknown choice with a note is kept as "other"."""
    words = REASONS.get(code.strip())
    note = " ".join(note.split())[:MAX_NOTE]  # one line: newlines and tabs become spaces
    if words is None:
        words = "other" if note else None
    if words is None:
        return None
    return f"{words}: {note}" if note else words


def _flagged():
    return or_(task_skips.c.reason == ATTACHMENT_BROKEN,
               task_skips.c.reason.like(ATTACHMENT_BROKEN + ": %"))


def recent(conn: Connection, *, limit: int = 50, task_id: str | None = None) -> list[dict[str, Any]]:
    """Skips that carry a reason, newest first (``ix_task_skips_reasons``); with ``task_id``,
    every skip of that task, reason or not."""
    cond = [task_skips.c.task_id == task_id] if task_id else [task_skips.c.reason.is_not(None)]
    rows = conn.execute(
        select(task_skips.c.task_id, task_skips.c.skipped_at, task_skips.c.reason,
               users.c.email.label("worker_email"), tasks.c.type, tasks.c.status)
        .select_from(task_skips.join(users, users.c.id == task_skips.c.worker_id)
                     .join(tasks, tasks.c.id == task_skips.c.task_id))
        .where(*cond)
        .order_by(task_skips.c.skipped_at.desc(), task_skips.c.task_id, task_skips.c.worker_id)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def flagged_attachments(conn: Connection, *, limit: int = 50) -> list[dict[str, Any]]:
    """Tasks whose attachment a worker flagged as broken: how many flags, the latest first. Reads
    every flag (a flag is rare: one per worker and task at most, and only when something is wrong)."""
    flags = (
        select(task_skips.c.task_id, func.count().label("flags"),
               func.max(task_skips.c.skipped_at).label("last_flagged_at"))
        .where(task_skips.c.reason.is_not(None), _flagged())
        .group_by(task_skips.c.task_id)
        .subquery()
    )
    rows = conn.execute(
        select(flags.c.task_id, flags.c.flags, flags.c.last_flagged_at, tasks.c.type, tasks.c.status,
               tasks.c.params)
        .select_from(flags.join(tasks, tasks.c.id == flags.c.task_id))
        .order_by(flags.c.last_flagged_at.desc(), flags.c.task_id)
        .limit(limit)
    ).mappings()
    return [{**r, "attachments": attachments_of(r["params"])} for r in rows]


def flagged_pending(conn: Connection) -> int:
    """How many tasks still waiting for an answer have a flagged attachment (the queue page's
    pointer to the Skips page)."""
    return conn.execute(
        select(func.count(func.distinct(task_skips.c.task_id)))
        .select_from(task_skips.join(tasks, tasks.c.id == task_skips.c.task_id))
        .where(task_skips.c.reason.is_not(None), _flagged(), tasks.c.status == "pending")
    ).scalar_one()


def attachments_of(params: Any) -> list[str]:
    """A task's attachments as stored (``attachment``, or a comparison's ``attachments``); an odd
    stored row gives what strings it has."""
    if not isinstance(params, dict):
        return []
    found = params.get("attachments")
    found = found if isinstance(found, list) else [params.get("attachment")]
    return [a for a in found if isinstance(a, str)]
