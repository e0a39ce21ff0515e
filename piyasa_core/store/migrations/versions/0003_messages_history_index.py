"""messages (chat_id, status, id): the index of the engine's history read (a chat's newest sent
messages); without it SQLite walked the status index backwards over every chat's messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_messages_chat_status_id', 'messages', ['chat_id', 'status', 'id'])


def downgrade() -> None:
    op.drop_index('ix_messages_chat_status_id', table_name='messages')
