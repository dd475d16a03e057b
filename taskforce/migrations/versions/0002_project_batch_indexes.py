"""partial indexes for the list filtered by project or batch

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 02:10:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_customer_project', ['customer_id', 'is_test', 'project', 'created_at', 'id'], unique=False, sqlite_where=sa.text('project IS NOT NULL'), postgresql_where=sa.text('project IS NOT NULL'))
        batch_op.create_index('ix_tasks_customer_batch', ['customer_id', 'is_test', 'batch', 'created_at', 'id'], unique=False, sqlite_where=sa.text('batch IS NOT NULL'), postgresql_where=sa.text('batch IS NOT NULL'))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_customer_batch', sqlite_where=sa.text('batch IS NOT NULL'), postgresql_where=sa.text('batch IS NOT NULL'))
        batch_op.drop_index('ix_tasks_customer_project', sqlite_where=sa.text('project IS NOT NULL'), postgresql_where=sa.text('project IS NOT NULL'))
