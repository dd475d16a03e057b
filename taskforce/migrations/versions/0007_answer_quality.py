"""Answer quality: dynamic overlap and review on tasks, simulated workers on assignments, skill models

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing tasks keep exactly their behaviour: no dynamic overlap (nulls), no quality, no review.
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('max_answers', sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column('min_confidence', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('quality', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('review_state', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('reviewed_by', sa.Integer(), nullable=True))
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('simulated_worker', sa.SmallInteger(), nullable=True))
    op.create_table(
        'skill_models',
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('is_test', sa.Boolean(), nullable=False),
        sa.Column('model', sa.JSON(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('fitted_at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_skill_models_customer_id_customers')),
        sa.PrimaryKeyConstraint('customer_id', 'is_test', name=op.f('pk_skill_models')),
    )
    # The operator's Review queue lists pending tasks waiting for a decision.
    op.create_index('ix_tasks_review', 'tasks', ['review_state', 'created_at'], unique=False,
                    sqlite_where=sa.text('review_state IS NOT NULL'),
                    postgresql_where=sa.text('review_state IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_tasks_review', table_name='tasks')
    op.drop_table('skill_models')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_column('simulated_worker')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('reviewed_by')
        batch_op.drop_column('review_state')
        batch_op.drop_column('quality')
        batch_op.drop_column('min_confidence')
        batch_op.drop_column('max_answers')
