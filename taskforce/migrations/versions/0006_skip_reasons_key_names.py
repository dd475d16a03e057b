"""task_skips.reason: why a worker skipped (or flagged the attachment); api_keys.name

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both nullable: skips made before reasons existed have none, keys made before names none.
    with op.batch_alter_table('task_skips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reason', sa.String(length=600), nullable=True))
    op.create_index('ix_task_skips_reasons', 'task_skips', ['skipped_at'], unique=False,
                    sqlite_where=sa.text('reason IS NOT NULL'), postgresql_where=sa.text('reason IS NOT NULL'))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_index('ix_task_skips_reasons', table_name='task_skips')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('name')
    with op.batch_alter_table('task_skips', schema=None) as batch_op:
        batch_op.drop_column('reason')
