"""bots.operator_disabled: the operator turned the bot off at runtime (TUI bots screen, control API
`POST /bots`). `init` syncs `bots.enabled` from config.toml and never touches this column, so a bot the
operator disabled stays disabled across restarts and re-inits; a bot talks when both allow it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bots') as batch:
        batch.add_column(sa.Column('operator_disabled', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('bots') as batch:
        batch.drop_column('operator_disabled')
