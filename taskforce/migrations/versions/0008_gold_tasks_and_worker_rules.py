"""Gold tasks (expected answers scoring workers), worker pauses, the Review queue's state

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 16:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_GOLD_SQLITE = "gold = 1 AND status = 'pending' AND is_test = 0"
_GOLD_PG = "gold = true AND status = 'pending' AND is_test = false"


def upgrade() -> None:
    # Existing tasks are not gold; existing workers have made no claims counted for gold mixing.
    # Plain ADD COLUMNs: no table rebuild on SQLite, so tasks' triggers and partial indexes stay.
    op.add_column('tasks', sa.Column('gold', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('tasks', sa.Column('expected_response', sa.JSON(), nullable=True))
    # (tasks.review_state and ix_tasks_review, which the Review queue reads, come with 0007.)
    op.create_index('ix_tasks_gold', 'tasks', ['created_at', 'id'], unique=False,
                    sqlite_where=sa.text(_GOLD_SQLITE), postgresql_where=sa.text(_GOLD_PG))
    op.create_index('ix_tasks_customer_gold', 'tasks', ['customer_id', 'is_test', 'type', 'status'], unique=False,
                    sqlite_where=sa.text('gold = 1'), postgresql_where=sa.text('gold = true'))
    op.add_column('assignments', sa.Column('gold_correct', sa.Boolean(), nullable=True))
    op.add_column('users', sa.Column('claims_made', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('users', sa.Column('gold_paused', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade() -> None:
    # Plain DROP COLUMNs (SQLite 3.35+), indexes first: no rebuild of tasks on SQLite.
    op.drop_column('users', 'gold_paused')
    op.drop_column('users', 'claims_made')
    op.drop_column('assignments', 'gold_correct')
    op.drop_index('ix_tasks_customer_gold', table_name='tasks')
    op.drop_index('ix_tasks_gold', table_name='tasks')
    for column in ('expected_response', 'gold'):
        op.drop_column('tasks', column)
