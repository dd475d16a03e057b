"""leases and answers live in assignments; tasks count answers needed, submitted and open slots

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 14:30:00

Live leases move from the task row to their assignment (token and expiry), completed tasks'
responses become their submitted assignment's answer (one is made for a task completed without
one, e.g. by the test-mode simulated worker), and each task's counters are computed from its
assignments. Then the task-row lease columns and ``completed_by`` go, and the queue's partial
indexes are rebuilt with ``held = false`` in their predicate.
"""
from __future__ import annotations

import time

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_QUEUE = ("status = 'pending' AND is_test = 0 AND held = 0",
          "status = 'pending' AND is_test = false AND held = false")
_TEST_PENDING = ("status = 'pending' AND is_test = 1 AND held = 0",
                 "status = 'pending' AND is_test = true AND held = false")
_OLD_QUEUE = ("status = 'pending' AND is_test = 0", "status = 'pending' AND is_test = false")
_OLD_TEST_PENDING = ("status = 'pending' AND is_test = 1", "status = 'pending' AND is_test = true")


def _where(predicate: tuple[str, str]) -> dict:
    return {"sqlite_where": sa.text(predicate[0]), "postgresql_where": sa.text(predicate[1])}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    now = int(time.time() * 1000)

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_expires_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('answer', sa.JSON(), nullable=True))
        batch_op.alter_column('worker_id', existing_type=sa.Integer(), nullable=True)
    op.add_column('tasks', sa.Column('answers_needed', sa.SmallInteger(), server_default=sa.text('1'), nullable=False))
    op.add_column('tasks', sa.Column('answers_submitted', sa.SmallInteger(), server_default=sa.text('0'), nullable=False))
    op.add_column('tasks', sa.Column('leases_open', sa.SmallInteger(), server_default=sa.text('0'), nullable=False))
    # tasks.held may already be there (the batches migration adds it too): added once.
    if 'held' not in {c['name'] for c in sa.inspect(op.get_bind()).get_columns('tasks')}:
        op.add_column('tasks', sa.Column('held', sa.Boolean(), server_default=sa.text('false'), nullable=False))

    # -- the data -----------------------------------------------------------------------------
    # A live lease (expired or not) is its assignment's now: it stays open with the task's expiry.
    op.execute("UPDATE assignments SET lease_expires_at = (SELECT t.lease_expires_at FROM tasks t "
               "WHERE t.lease_token = assignments.lease_token AND t.status = 'pending') "
               "WHERE outcome IS NULL")
    # Every claim wrote its assignment, but a lease without one must not be lost.
    op.execute(sa.text(
        "INSERT INTO assignments (task_id, worker_id, lease_token, claimed_at, lease_expires_at) "
        "SELECT t.id, t.lease_worker_id, t.lease_token, :now, t.lease_expires_at FROM tasks t "
        "WHERE t.status = 'pending' AND t.lease_token IS NOT NULL AND t.lease_expires_at IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.lease_token = t.lease_token)"
    ).bindparams(now=now))
    # An open assignment that is no task's current lease was taken over or ended without its
    # history saying so.
    op.execute(sa.text("UPDATE assignments SET outcome = 'expired', finished_at = :now "
                       "WHERE outcome IS NULL AND lease_expires_at IS NULL").bindparams(now=now))
    # A completed task's response is the answer of the assignment that submitted it; a task
    # completed without one (the simulated worker's) gets one, by whoever completed it.
    op.execute("UPDATE assignments SET answer = (SELECT t.response FROM tasks t WHERE t.id = assignments.task_id) "
               "WHERE outcome = 'submitted' AND answer IS NULL")
    op.execute(
        "INSERT INTO assignments (task_id, worker_id, lease_token, claimed_at, finished_at, outcome, answer) "
        "SELECT t.id, t.completed_by, 'm' || t.id, t.completed_at, t.completed_at, 'submitted', t.response "
        "FROM tasks t WHERE t.status = 'completed' "
        "AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.outcome = 'submitted')"
    )
    # The counters, from the rows just settled (only tasks that have any assignment).
    op.execute(
        "UPDATE tasks SET "
        "answers_submitted = (SELECT count(*) FROM assignments a WHERE a.task_id = tasks.id AND a.outcome = 'submitted'), "
        "leases_open = (SELECT count(*) FROM assignments a WHERE a.task_id = tasks.id AND a.outcome IS NULL), "
        "lease_expires_at = (SELECT min(a.lease_expires_at) FROM assignments a WHERE a.task_id = tasks.id AND a.outcome IS NULL) "
        "WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = tasks.id)"
    )
    op.execute("UPDATE tasks SET lease_expires_at = NULL WHERE lease_token IS NULL AND lease_expires_at IS NOT NULL")

    # -- the shape ----------------------------------------------------------------------------
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_queue', **_where(_OLD_QUEUE))
        batch_op.drop_index('ix_tasks_queue_depth', **_where(_OLD_QUEUE))
        batch_op.drop_index('ix_tasks_test_pending', **_where(_OLD_TEST_PENDING))
        batch_op.drop_index('ix_tasks_lease_worker', sqlite_where=sa.text('lease_worker_id IS NOT NULL'),
                            postgresql_where=sa.text('lease_worker_id IS NOT NULL'))
        batch_op.drop_index('ix_tasks_completed_by')
    if sqlite:
        _sqlite_drop_task_columns()
    else:
        for column in ('lease_worker_id', 'lease_token', 'completed_by'):
            op.drop_column('tasks', column)  # its foreign key goes with it

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_queue', ['priority', 'created_at', 'id'], unique=False, **_where(_QUEUE))
        batch_op.create_index('ix_tasks_queue_depth', ['priority', 'type', 'lease_expires_at'], unique=False,
                              **_where(_QUEUE))
        batch_op.create_index('ix_tasks_test_pending', ['created_at'], unique=False, **_where(_TEST_PENDING))
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index('ix_assignments_open', ['worker_id', 'lease_expires_at'], unique=False,
                              **_where(("outcome IS NULL", "outcome IS NULL")))
        batch_op.create_index('uq_assignments_answer', ['task_id', 'worker_id'], unique=True,
                              **_where(("outcome = 'submitted'", "outcome = 'submitted'")))


# SQLite cannot drop a column that has a foreign key, so the table is rebuilt. Alembic's batch
# rebuild reflects the indexes, and SQLite's reflection loses a partial index's WHERE; the
# table's triggers (task_counts, migration 0001) go with the old table. So every partial index
# and trigger on tasks is saved as SQLite stored it, dropped, and made again after the rebuild,
# whichever migrations made them.
def _sqlite_drop_task_columns() -> None:
    bind = op.get_bind()
    # Other tables' foreign keys point at tasks while it is replaced (taskforce.migrate turns
    # them off for the migration and checks them all before it commits).
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("0003 rebuilds the tasks table: run it with foreign keys off (taskforce migrate does)")
    saved = [(kind, name, sql) for kind, name, sql in bind.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'tasks' AND sql IS NOT NULL "
        "AND type IN ('index', 'trigger')").all()
        if kind == 'trigger' or ' WHERE ' in sql.upper()]
    for kind, name, _ in saved:
        op.execute(f'DROP {kind.upper()} "{name}"')
    with op.batch_alter_table('tasks', schema=None, recreate='always') as batch_op:
        batch_op.drop_column('lease_worker_id')
        batch_op.drop_column('lease_token')
        batch_op.drop_column('completed_by')
    for _, _, sql in saved:
        op.execute(sql)


def downgrade() -> None:
    raise NotImplementedError("0003 moves leases and answers into assignments; there is no way back")
