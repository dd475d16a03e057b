"""The tables. Times are integer milliseconds since the Unix epoch (UTC) on both backends:
exact to the millisecond the API prints, compared and indexed the same way on SQLite and
PostgreSQL, with no time-zone conversion anywhere (docs/decisions.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TextClause,
    text,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

Millis = BigInteger

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    #: Sent as ``scale-callback-auth`` on every callback (the seed's "Live Callback Auth Key").
    Column("callback_auth_key", String(64), nullable=False),
    #: Standard Webhooks signing secret, ``whsec_<base64>``.
    Column("signing_secret", String(100), nullable=False),
    #: After a rotation the old secret keeps signing until ``previous_secret_expires_at``.
    Column("previous_signing_secret", String(100)),
    Column("previous_secret_expires_at", Millis),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", Millis, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    #: ``live`` or ``test``; test keys make tasks that a simulated worker answers.
    Column("mode", String(4), nullable=False),
    #: The first characters of the key, shown in lists and used to find the row.
    Column("prefix", String(16), nullable=False, unique=True),
    #: SHA-256 of the whole key (keys are 192 random bits: no slow hash needed).
    Column("key_hash", String(64), nullable=False),
    Column("last4", String(4), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("last_used_at", Millis),
    Column("revoked_at", Millis),
    #: The customer's own label for the key ("CI", "staging"), shown in lists; optional.
    Column("name", String(100)),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    #: ``worker`` answers tasks; ``operator`` runs the workforce; ``customer`` uses the dashboard.
    Column("role", String(16), nullable=False),
    #: Set for customer users only: every dashboard query is scoped to it.
    Column("customer_id", Integer, ForeignKey("customers.id"), index=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", Millis, nullable=False),
    Column("last_login_at", Millis),
    #: Sessions carry the epoch they began in; sign-out and a password change raise it, which
    #: ends every session that began before (web/sessions.py).
    Column("session_epoch", Integer, nullable=False, server_default=text("0")),
    #: Workers: claims made so far (every ``TASKFORCE_GOLD_RATE``-th is a gold task's turn).
    Column("claims_made", Integer, nullable=False, server_default=text("0")),
    #: Workers: below the gold accuracy threshold, served only gold tasks until they recover
    #: or an operator reinstates them (quality/gold.py).
    Column("gold_paused", Boolean, nullable=False, server_default=text("false")),
)


@dataclass(frozen=True)
class Predicate:
    """A partial index's WHERE, per dialect. A planner uses a partial index only when a query's
    WHERE visibly implies the index's (literals, not bound parameters: SQLite cannot see through
    ``status = ?``, nor PostgreSQL's generic plans, which psycopg's prepared statements end up
    using), so the queries that rely on an index repeat its predicate from here, word for word."""

    sqlite: str
    postgresql: str

    def index_where(self) -> dict[str, Any]:
        return {"sqlite_where": text(self.sqlite), "postgresql_where": text(self.postgresql)}

    def sql(self, dialect: str) -> str:
        return self.postgresql if dialect == "postgresql" else self.sqlite

    def clause(self, dialect: str) -> TextClause:
        return text(self.sql(dialect))


#: Tasks a person may be handed: pending, live, not held back. ``ix_tasks_queue`` and
#: ``ix_tasks_queue_depth`` hold exactly these rows.
QUEUE = Predicate("status = 'pending' AND is_test = 0 AND held = 0",
                  "status = 'pending' AND is_test = false AND held = false")
#: Test-mode tasks the simulated worker answers (``ix_tasks_test_pending``).
TEST_PENDING = Predicate("status = 'pending' AND is_test = 1 AND held = 0",
                         "status = 'pending' AND is_test = true AND held = false")
#: Among QUEUE's rows, those with a slot a worker may take now: fewer answers and open
#: assignments than needed, or an open assignment whose lease has run out (bind ``:now``).
FREE_SLOT = "(answers_submitted + leases_open < answers_needed OR lease_expires_at < :now)"
#: Gold tasks a worker may be handed (``ix_tasks_gold``): live, pending (a canceled gold task is
#: retired). They are never in QUEUE: gold rows are created held.
GOLD = Predicate("gold = 1 AND status = 'pending' AND is_test = 0",
                 "gold = true AND status = 'pending' AND is_test = false")
#: Every gold task, whatever its state (``ix_tasks_customer_gold``: the customer's list total
#: leaves them out).
CUSTOMER_GOLD = Predicate("gold = 1", "gold = true")
#: Assignments still open: held by a worker, or run out and not yet taken over (``ix_assignments_open``).
OPEN_ASSIGNMENT = Predicate("outcome IS NULL", "outcome IS NULL")

tasks = Table(
    "tasks",
    metadata,
    #: 24 lowercase hex characters: 4 bytes of creation time, 8 random.
    Column("id", String(24), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("is_test", Boolean, nullable=False),
    Column("type", String(32), nullable=False),
    #: ``pending`` | ``completed`` | ``canceled`` (tasks/status.py).
    Column("status", String(16), nullable=False),
    Column("urgency", String(16), nullable=False),
    #: 0 immediate, 1 day, 2 week: the queue orders by it.
    Column("priority", SmallInteger, nullable=False),
    Column("instruction", Text, nullable=False),
    Column("callback_url", Text, nullable=False),
    Column("params", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("response", JSON),
    Column("created_at", Millis, nullable=False),
    Column("completed_at", Millis),
    Column("canceled_at", Millis),
    #: How many workers' answers the task needs before its response is combined (issue 9:
    #: overlap; raising it by one asks one more worker).
    Column("answers_needed", SmallInteger, nullable=False, server_default=text("1")),
    #: Answers submitted so far, and assignments still open (held, or run out but not yet
    #: taken over): kept in step with ``assignments`` so that "still needs a worker" is a test on
    #: the task row alone (``FREE_SLOT``).
    Column("answers_submitted", SmallInteger, nullable=False, server_default=text("0")),
    Column("leases_open", SmallInteger, nullable=False, server_default=text("0")),
    #: The earliest expiry among the open assignments (null when none is open): once it has
    #: passed, that slot may be taken over.
    Column("lease_expires_at", Millis),
    #: Held back from every worker while its batch is not finalised (issue 14).
    Column("held", Boolean, nullable=False, server_default=text("false")),
    #: Null while the callback is owed or being retried; then whether it was delivered.
    Column("callback_succeeded", Boolean),
    #: Later clients (scaleapi 2.x) group tasks by project and batch and de-duplicate by unique_id.
    Column("project", String(200)),
    Column("batch", String(200)),
    Column("unique_id", String(200)),
    #: The customer's labels (scaleapi 2.x's task tags), a JSON array of strings.
    Column("tags", JSON, nullable=False, server_default=text("'[]'")),
    #: The customer's audit of a completed task: ``accepted`` | ``rejected``; and their comments.
    Column("customer_review_status", String(16)),
    Column("customer_review_comments", JSON),
    #: Null until the task first changes after creation; set by a database trigger (migration
    #: 0005) whenever a customer-visible column changes, so no code path can forget it.
    Column("updated_at", Millis),
    #: Dynamic overlap (issue 10): ask one more worker at a time, up to ``max_answers`` answers,
    #: until the combined answer's confidence reaches ``min_confidence``; null: no dynamic overlap.
    Column("max_answers", SmallInteger),
    Column("min_confidence", Float),
    #: The task object's ``quality`` (answers used, confidence, method, agreement) once combined
    #: from several answers; null for a one-answer task.
    Column("quality", JSON),
    #: ``needed`` while an operator must decide (the task stays pending, out of the queue);
    #: ``done`` once decided (``service.finish_review``), by ``reviewed_by``.
    Column("review_state", String(16)),
    Column("reviewed_by", Integer),
    #: A gold (evaluation) task: its ``expected_response`` scores the workers who answer it; it is
    #: never completed by answers, never owes a callback and stays out of the customer's list.
    Column("gold", Boolean, nullable=False, server_default=text("false")),
    Column("expected_response", JSON),
    Index("uq_tasks_unique_id", "customer_id", "is_test", "unique_id", unique=True),
    # The customer's list, newest first, keyset-paginated on (created_at, id).
    Index("ix_tasks_customer_list", "customer_id", "is_test", "created_at", "id"),
    Index("ix_tasks_customer_status", "customer_id", "is_test", "status", "created_at", "id"),
    Index("ix_tasks_customer_type", "customer_id", "is_test", "type", "created_at", "id"),
    Index("ix_tasks_customer_urgency", "customer_id", "is_test", "urgency", "created_at", "id"),
    # The list filtered by project or batch. Partial: a task without one costs nothing more to
    # create, and "project = ?" implies "project IS NOT NULL" to both planners.
    Index("ix_tasks_customer_project", "customer_id", "is_test", "project", "created_at", "id",
          sqlite_where=text("project IS NOT NULL"), postgresql_where=text("project IS NOT NULL")),
    # The operator's Review queue.
    Index("ix_tasks_review", "review_state", "created_at",
          sqlite_where=text("review_state IS NOT NULL"), postgresql_where=text("review_state IS NOT NULL")),
    Index("ix_tasks_customer_batch", "customer_id", "is_test", "batch", "created_at", "id",
          sqlite_where=text("batch IS NOT NULL"), postgresql_where=text("batch IS NOT NULL")),
    # The work queue: only pending live tasks, in the order they are handed out.
    Index("ix_tasks_queue", "priority", "created_at", "id", **QUEUE.index_where()),
    Index("ix_tasks_test_pending", "created_at", **TEST_PENDING.index_where()),
    Index("ix_tasks_gold", "created_at", "id", **GOLD.index_where()),
    Index("ix_tasks_customer_gold", "customer_id", "is_test", "type", "status", **CUSTOMER_GOLD.index_where()),
    # The dashboard's completions per day and median completion time over the last 30 days.
    # Only completed rows are indexed, so creating a task costs nothing more.
    Index(
        "ix_tasks_customer_completed",
        "customer_id",
        "is_test",
        "completed_at",
        "created_at",
        sqlite_where=text("completed_at IS NOT NULL"),
        postgresql_where=text("completed_at IS NOT NULL"),
    ),
    # The operator's queue depth by urgency and type, counted from the index alone (a lease
    # counts as held while lease_expires_at is in the future; releases clear it).
    Index(
        "ix_tasks_queue_depth",
        "priority",
        "type",
        "lease_expires_at",
        **QUEUE.index_where(),
    ),
)

#: How many tasks each customer has per (mode, type, status), kept by database triggers on
#: ``tasks`` (migration 0001) in the same transaction as the change, so the list's ``total`` is a
#: sum of a few rows instead of a count over up to millions. ``shard`` spreads concurrent writers
#: over several rows on PostgreSQL (by backend pid) so creates from many processes do not queue on
#: one row lock; totals sum the shards. Rows may hold negative numbers; only sums mean anything.
task_counts = Table(
    "task_counts",
    metadata,
    Column("customer_id", Integer, primary_key=True),
    Column("is_test", Boolean, primary_key=True),
    Column("type", String(32), primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("shard", SmallInteger, primary_key=True),
    Column("n", BigInteger, nullable=False),
)

#: A worker who skipped a task is not offered it again.
task_skips = Table(
    "task_skips",
    metadata,
    Column("task_id", String(24), ForeignKey("tasks.id"), primary_key=True),
    Column("worker_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("skipped_at", Millis, nullable=False),
    #: Why, in the worker's words (tasks/skips.py: a reason from the list, ": " and a note); operators see it.
    Column("reason", String(600)),
    # The operator's "skips with a reason", newest first; plain skips are not indexed.
    Index("ix_task_skips_reasons", "skipped_at", sqlite_where=text("reason IS NOT NULL"),
          postgresql_where=text("reason IS NOT NULL")),
)

#: One row per worker's claim on a task: the lease while it is open, then how it ended, and the
#: worker's answer. A task's ``answers_submitted`` / ``leases_open`` / ``lease_expires_at`` summarise
#: its rows here (service.py keeps them in step, in the same transaction).
assignments = Table(
    "assignments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("task_id", String(24), ForeignKey("tasks.id"), nullable=False, index=True),
    #: Null for the test-mode simulated worker's answers.
    Column("worker_id", Integer, ForeignKey("users.id")),
    #: The token the worker's submission must carry.
    Column("lease_token", String(32), nullable=False, unique=True),
    Column("claimed_at", Millis, nullable=False),
    Column("lease_expires_at", Millis),
    #: When it ended; for ``submitted``, when the answer came in.
    Column("finished_at", Millis),
    #: Null while open; then ``submitted`` | ``skipped`` | ``expired`` (taken over after its
    #: lease ran out) | ``released`` | ``canceled``.
    Column("outcome", String(16)),
    #: The worker's validated answer (``submitted`` only).
    Column("answer", JSON),
    #: Test mode's simulated crowd: which simulated worker (0-based) gave this answer
    #: (``worker_id`` is null for them; tasks/simulator.py).
    Column("simulated_worker", SmallInteger),
    #: On a gold task: whether the answer matched its expected response; null elsewhere.
    Column("gold_correct", Boolean),
    Index("ix_assignments_worker", "worker_id", "claimed_at"),
    # A worker's current lease and the operator's "in progress" list: open rows only.
    Index("ix_assignments_open", "worker_id", "lease_expires_at", **OPEN_ASSIGNMENT.index_where()),
    # A worker never answers one task twice (the simulated worker's null ids are all distinct).
    Index("uq_assignments_answer", "task_id", "worker_id", unique=True,
          sqlite_where=text("outcome = 'submitted'"), postgresql_where=text("outcome = 'submitted'")),
)

#: What is known of each customer's workers (quality/skills.py ``SkillModel.to_dict``), per mode;
#: re-fitted in the background (quality/refit.py), ``version`` bumped on each write so that a
#: process's cached copy is re-read only when it changed.
skill_models = Table(
    "skill_models",
    metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("is_test", Boolean, primary_key=True),
    Column("model", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("fitted_at", Millis, nullable=False),
)

#: Projects (scaleapi 2.x): a task type and default parameters for the project's tasks. Per
#: customer and mode, like tasks.
projects = Table(
    "projects",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("is_test", Boolean, nullable=False),
    Column("name", String(200), nullable=False),
    Column("type", String(32), nullable=False),
    #: The current defaults; ``param_history`` keeps every version, newest last.
    Column("params", JSON, nullable=False),
    Column("param_history", JSON, nullable=False),
    Column("created_at", Millis, nullable=False),
    Index("uq_projects_name", "customer_id", "is_test", "name", unique=True),
)

#: Batches (scaleapi 2.x): a named set of tasks, held from workers until finalised; one signed
#: callback to ``callback`` once every task in it is final.
batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("is_test", Boolean, nullable=False),
    Column("name", String(200), nullable=False),
    Column("project", String(200), nullable=False),
    #: An http(s) URL, or empty for no callback.
    Column("callback", Text, nullable=False),
    Column("metadata", JSON, nullable=False),
    #: ``staging`` (taking tasks) | ``in_progress`` (finalised) | ``completed`` (every task final).
    Column("status", String(16), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("finalized_at", Millis),
    Column("completed_at", Millis),
    Index("uq_batches_name", "customer_id", "is_test", "name", unique=True),
    Index("ix_batches_customer_list", "customer_id", "is_test", "created_at", "id"),
)

#: Uploaded or imported files (scaleapi 2.x), used as task attachments by ``scaledata://ID``.
#: The bytes live in a FileStore (taskforce/files/storage.py) under ``storage_key``.
files = Table(
    "files",
    metadata,
    #: 24 lowercase hex characters, random: the ``scaledata://`` URL's path.
    Column("id", String(24), primary_key=True),
    #: Only this customer's tasks may use the file.
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("is_test", Boolean, nullable=False),
    Column("storage_key", String(100), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("mime_type", String(127), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    #: Where ``/v1/files/import`` fetched it from; null for uploads.
    Column("source_url", Text),
    #: The client's optional form fields (``display_name``, ``project_name``, ``reference_id``).
    Column("extra", JSON, nullable=False),
    Column("created_at", Millis, nullable=False),
)

#: The transactional outbox: one row per callback owed, written with the completion.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    #: The task whose callback this is; null for a batch's completion callback (``batch_id``).
    Column("task_id", String(24), ForeignKey("tasks.id"), index=True),
    Column("batch_id", Integer, ForeignKey("batches.id")),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    #: ``webhook-id``: the same on every attempt, so receivers can de-duplicate.
    Column("webhook_id", String(40), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    #: The exact bytes POSTed, frozen at completion so every retry sends the same body.
    Column("body", Text, nullable=False),
    #: ``pending`` | ``delivered`` | ``failed`` (gave up).
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    #: When the next attempt is due; a dispatcher claims a row by pushing it forward.
    Column("next_attempt_at", Millis, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("delivered_at", Millis),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_deliveries_customer", "customer_id", "created_at"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False, index=True),
    Column("attempted_at", Millis, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Integer),
    Column("error", Text),
)

#: Operator-controlled switches (for example self sign-up), one row per name.
site_settings = Table(
    "site_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)
