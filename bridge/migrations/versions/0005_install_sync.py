"""Install and connect, reconciliation, webhook health: who keeps a shop's webhooks, when it
was installed and with which scopes; ``shop_sync`` (cursors, schedule, last result, health
note, our webhook ids) and ``install_requests`` (one-time OAuth states / WooCommerce user ids).

Existing shops get no ``shop_sync`` row: a shop added by hand joins reconciliation with its
first ``cartbridge sync SHOP`` (see bridge/db/tables_sync.py).

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from bridge.db.types import UTCDateTime

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SHOP_COLUMNS = (('webhooks_managed_by', sa.String(length=16)), ('installed_at', UTCDateTime()),
                ('scopes', sa.String(length=255)))


def upgrade() -> None:
    for name, type_ in SHOP_COLUMNS:
        op.add_column('shops', sa.Column(name, type_, nullable=True))
    op.create_table(
        'shop_sync',
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('cursors', sa.JSON(), nullable=False),
        sa.Column('next_sync_at', UTCDateTime(), nullable=False),
        sa.Column('sync_claimed_until', UTCDateTime(), nullable=True),
        sa.Column('last_sync_at', UTCDateTime(), nullable=True),
        sa.Column('last_sync_error', sa.Text(), nullable=True),
        sa.Column('last_sync_count', sa.Integer(), nullable=True),
        sa.Column('backfill_since', UTCDateTime(), nullable=True),
        sa.Column('next_health_at', UTCDateTime(), nullable=False),
        sa.Column('health_checked_at', UTCDateTime(), nullable=True),
        sa.Column('health_note', sa.Text(), nullable=True),
        sa.Column('health_note_at', UTCDateTime(), nullable=True),
        sa.Column('webhook_ids', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('shop_id'),
    )
    op.create_table(
        'install_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('domain', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('used_at', UTCDateTime(), nullable=True),
        sa.Column('shop_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('nonce', name='uq_install_requests_nonce'),
    )


def downgrade() -> None:
    op.drop_table('install_requests')
    op.drop_table('shop_sync')
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table('shops') as batch:
        for name, _type in reversed(SHOP_COLUMNS):
            batch.drop_column(name)
