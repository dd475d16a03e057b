"""projects, batches, files; task tags, customer audit, updated_at; batch callbacks

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: Columns whose change is a change of the task as the customer sees it: the trigger below
#: stamps ``updated_at`` when an UPDATE sets any of them. Lease columns are not among them, so
#: claims and releases never run it.
_VISIBLE = ("status, response, metadata, tags, unique_id, customer_review_status, "
            "customer_review_comments, project, batch, params, instruction, callback_url, urgency")

_PG_UPDATED_AT = """
CREATE FUNCTION taskforce_task_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    RETURN NEW;
END $$
"""
_SQLITE_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('is_test', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('param_history', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_projects_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    op.create_index('uq_projects_name', 'projects', ['customer_id', 'is_test', 'name'], unique=True)
    op.create_table('batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('is_test', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('project', sa.String(length=200), nullable=False),
    sa.Column('callback', sa.Text(), nullable=False),
    sa.Column('metadata', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('finalized_at', sa.BigInteger(), nullable=True),
    sa.Column('completed_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_batches_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batches'))
    )
    op.create_index('uq_batches_name', 'batches', ['customer_id', 'is_test', 'name'], unique=True)
    op.create_index('ix_batches_customer_list', 'batches', ['customer_id', 'is_test', 'created_at', 'id'])
    op.create_table('files',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('is_test', sa.Boolean(), nullable=False),
    sa.Column('storage_key', sa.String(length=100), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('mime_type', sa.String(length=127), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('source_url', sa.Text(), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_files_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files'))
    )
    op.create_index(op.f('ix_files_customer_id'), 'files', ['customer_id'], unique=False)

    # Plain ADD COLUMN on both backends (no table rebuild: tasks keeps its count triggers).
    # (tasks.held, which batches also use, comes with 0003: the queue skips held tasks.)
    op.add_column('tasks', sa.Column('tags', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
    op.add_column('tasks', sa.Column('customer_review_status', sa.String(length=16), nullable=True))
    op.add_column('tasks', sa.Column('customer_review_comments', sa.JSON(), nullable=True))
    op.add_column('tasks', sa.Column('updated_at', sa.BigInteger(), nullable=True))
    # Existing tasks: their last change is their completion or cancellation, if any.
    op.execute("UPDATE tasks SET updated_at = COALESCE(completed_at, canceled_at) "
               "WHERE completed_at IS NOT NULL OR canceled_at IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_UPDATED_AT)
        op.execute(f"CREATE TRIGGER tasks_updated_at BEFORE UPDATE OF {_VISIBLE} ON tasks "
                   "FOR EACH ROW EXECUTE FUNCTION taskforce_task_updated_at()")
    else:
        # AFTER, and a second UPDATE of the row: SQLite triggers cannot assign NEW. The inner
        # UPDATE sets only updated_at, which is not in the list, so it does not fire again.
        op.execute(f"CREATE TRIGGER tasks_updated_at AFTER UPDATE OF {_VISIBLE} ON tasks BEGIN "
                   f"UPDATE tasks SET updated_at = {_SQLITE_NOW_MS} WHERE id = NEW.id; END")

    # A batch's completion callback goes through the same outbox as a task's: task_id becomes
    # optional and batch_id names the batch (SQLite rebuilds the table to drop NOT NULL).
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch_id', sa.Integer(), nullable=True))
        batch_op.alter_column('task_id', existing_type=sa.String(length=24), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_batch_id_batches'), 'batches', ['batch_id'], ['id'])


def downgrade() -> None:
    op.execute("DELETE FROM delivery_attempts WHERE delivery_id IN "
               "(SELECT id FROM deliveries WHERE task_id IS NULL)")
    op.execute("DELETE FROM deliveries WHERE task_id IS NULL")
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deliveries_batch_id_batches'), type_='foreignkey')
        batch_op.alter_column('task_id', existing_type=sa.String(length=24), nullable=False)
        batch_op.drop_column('batch_id')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tasks_updated_at ON tasks")
        op.execute("DROP FUNCTION IF EXISTS taskforce_task_updated_at()")
    else:
        op.execute("DROP TRIGGER IF EXISTS tasks_updated_at")
    for column in ('updated_at', 'customer_review_comments', 'customer_review_status', 'tags'):
        op.drop_column('tasks', column)
    op.drop_index(op.f('ix_files_customer_id'), table_name='files')
    op.drop_table('files')
    op.drop_index('ix_batches_customer_list', table_name='batches')
    op.drop_index('uq_batches_name', table_name='batches')
    op.drop_table('batches')
    op.drop_index('uq_projects_name', table_name='projects')
    op.drop_table('projects')
