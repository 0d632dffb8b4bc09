"""The admin page: users and their shop grants, failed sign-ins, a shop's own SendGrid key,
test sends in the dev outbox (no message row: ``outbox.message_id`` may be empty), and the indexes its pages read by (dashboard by abandonment day, carts newest first,
a cart's messages, a shop's last webhook).

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from bridge.db.types import UTCDateTime

revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = (('ix_carts_shop_abandoned_at', 'carts', ['shop_id', 'abandoned_at']),
           ('ix_carts_shop_updated_at', 'carts', ['shop_id', 'updated_at']),
           ('ix_messages_cart', 'messages', ['cart_id']),
           ('ix_deliveries_shop_received', 'webhook_deliveries', ['shop_id', 'received_at']))


def upgrade() -> None:
    op.add_column('shops', sa.Column('sendgrid_api_key_enc', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='reminder'))
        batch.alter_column('message_id', existing_type=sa.Integer(), nullable=True)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('password_hash', sa.String(length=255), nullable=False),
        sa.Column('all_shops', sa.Boolean(), nullable=False),
        sa.Column('session_version', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('last_login_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('email', name='uq_users_email'),
    )
    op.create_table(
        'user_shops',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'shop_id', name='uq_user_shops_user_shop'),
    )
    op.create_table(
        'login_failures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('failed_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_login_failures_key_at', 'login_failures', ['key_hash', 'failed_at'])


def downgrade() -> None:
    op.drop_index('ix_login_failures_key_at', table_name='login_failures')
    for table in ('login_failures', 'user_shops', 'users'):
        op.drop_table(table)
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
    op.execute("DELETE FROM outbox WHERE message_id IS NULL")
    with op.batch_alter_table('outbox') as batch:
        batch.alter_column('message_id', existing_type=sa.Integer(), nullable=False)
        batch.drop_column('kind')
    with op.batch_alter_table('shops') as batch:
        batch.drop_column('sendgrid_api_key_enc')
