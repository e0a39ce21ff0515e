"""fleet_hosts and fleet_leases: several supervisors on one PostgreSQL database (`[fleet]`). Hosts
register with a heartbeat; shards (`bot_id % shards`, whose holder also receives its bots' updates) are held by
leases with expiry whose epoch fences the outbox (docs/fleet.md)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'fleet_hosts',
        sa.Column('host_id', sa.String(64), nullable=False),
        sa.Column('address', sa.String(255), nullable=False),
        sa.Column('workers', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(32), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('draining', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('summary', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('host_id', name='pk_fleet_hosts'),
    )
    op.create_table(
        'fleet_leases',
        sa.Column('name', sa.String(64), nullable=False),
        sa.Column('holder', sa.String(64), nullable=True),
        sa.Column('epoch', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('name', name='pk_fleet_leases'),
    )


def downgrade() -> None:
    op.drop_table('fleet_leases')
    op.drop_table('fleet_hosts')
