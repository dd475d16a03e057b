"""Where a customer's ``SkillModel`` lives: one ``skill_models`` row per customer and mode.

Completing a task reads it. The model of a customer with thousands of workers is a large JSON
document, so each process keeps the last one it read and re-reads it only when the row's
``version`` (bumped by every write, quality/refit.py) changed: the check is one primary-key
look-up of two integers.

Parsing that document is slow (0.5 s for 10,000 workers on a quiet host, 1.3-3.3 s on a loaded
one), and whichever completing transaction first needs a model would pay it while holding the
task's row lock (SQLite: the write lock). So each server process parses the models ahead of
requests (``warm``, from ``app.background_loops`` at start-up and then every few seconds): a
completion then finds the model cached unless a re-fit landed in the seconds since the last warm.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from taskforce.models import skill_models
from taskforce.quality.skills import SkillModel

_VERSION = select(skill_models.c.version, skill_models.c.fitted_at).where(
    skill_models.c.customer_id == bindparam("b_customer"), skill_models.c.is_test == bindparam("b_is_test"))
_MODEL = select(skill_models.c.model, skill_models.c.version, skill_models.c.fitted_at).where(
    skill_models.c.customer_id == bindparam("b_customer"), skill_models.c.is_test == bindparam("b_is_test"))

_lock = threading.Lock()
#: (database URL, customer, is_test) → ((version, fitted_at), model)
_cache: dict[tuple[str, int, bool], tuple[tuple[int, int], SkillModel]] = {}
_EMPTY = SkillModel()


def load(conn: Connection, customer_id: int, is_test: bool) -> SkillModel:
    """The customer's current model (an empty one while nothing was fitted). Callers must not
    change it: it is shared by every request of this process."""
    params = {"b_customer": customer_id, "b_is_test": is_test}
    stamp = conn.execute(_VERSION, params).first()
    if stamp is None:
        return _EMPTY
    key = (str(conn.engine.url), customer_id, bool(is_test))
    cached = _cache.get(key)
    if cached is not None and cached[0] == tuple(stamp):
        return cached[1]
    row = conn.execute(_MODEL, params).first()
    if row is None:
        return _EMPTY
    try:
        model = SkillModel.from_dict(row.model if isinstance(row.model, dict) else {})
    except (TypeError, ValueError, AttributeError):
        model = SkillModel()  # a damaged row counts as no history until the next re-fit
    with _lock:
        _cache[key] = ((row.version, row.fitted_at), model)
    return model


_STAMPS = select(skill_models.c.customer_id, skill_models.c.is_test, skill_models.c.version,
                 skill_models.c.fitted_at)


def warm(db: Any) -> int:
    """Parse every stored model this process has not cached at its current version, outside any
    request (``db`` is a ``Database``); returns how many were parsed. Each is read in its own
    short read transaction."""
    with db.read() as conn:
        stamps = conn.execute(_STAMPS).all()
        url = str(conn.engine.url)
    parsed = 0
    for customer_id, is_test, version, fitted_at in stamps:
        cached = _cache.get((url, customer_id, bool(is_test)))
        if cached is not None and cached[0] == (version, fitted_at):
            continue
        with db.read() as conn:
            load(conn, customer_id, bool(is_test))
        parsed += 1
    return parsed


def save(conn: Connection, customer_id: int, is_test: bool, model: SkillModel, *, now: int) -> None:
    """Store a freshly fitted model (a new version)."""
    data: dict[str, Any] = model.to_dict()
    changed = conn.execute(
        update(skill_models)
        .where(skill_models.c.customer_id == customer_id, skill_models.c.is_test == is_test)
        .values(model=data, version=skill_models.c.version + 1, fitted_at=now)).rowcount
    if not changed:
        conn.execute(insert(skill_models).values(customer_id=customer_id, is_test=is_test, model=data,
                                                 version=1, fitted_at=now))
