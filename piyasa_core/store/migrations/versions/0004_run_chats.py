"""chats.run_id and chats.source_chat_id: a benchmark run talks in chats of its own (one per community
chat it mirrors), so its simulated messages never land in a chat people read and every figure of the
run comes from its own rows

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chats') as batch:
        batch.add_column(sa.Column('run_id', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('source_chat_id', sa.Integer(), nullable=True))
    op.create_index('ix_chats_run_id', 'chats', ['run_id'])


def downgrade() -> None:
    op.drop_index('ix_chats_run_id', table_name='chats')
    with op.batch_alter_table('chats') as batch:
        batch.drop_column('source_chat_id')
        batch.drop_column('run_id')
