"""Discount codes: per-step discount settings, the discounts table, expiring Shopify tokens.

Existing shops keep plain reminders (discount kind 'none' on every step): a shop that
did not ask for codes must not start handing them out after an upgrade, and it may
lack the write_discounts scope. New shops get the default sequence (10% in step 2).

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from bridge.db.types import Money, UTCDateTime

revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def step_columns() -> list[sa.Column]:
    return [
        sa.Column('discount_kind', sa.String(length=16), nullable=False, server_default='none'),
        sa.Column('discount_value', Money(), nullable=True),
        sa.Column('discount_valid_hours', sa.Integer(), nullable=False, server_default='72'),
        sa.Column('discount_minimum', Money(), nullable=True),
        sa.Column('discount_new_customers_only', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('discount_code_prefix', sa.String(length=12), nullable=False, server_default='CB-'),
    ]


def shop_columns() -> list[sa.Column]:
    return [
        sa.Column('access_token_expires_at', UTCDateTime(), nullable=True),
        sa.Column('refresh_token_enc', sa.LargeBinary(), nullable=True),
        sa.Column('refresh_token_expires_at', UTCDateTime(), nullable=True),
        sa.Column('send_without_discount', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('expiry_reminder_hours', sa.Integer(), nullable=True),
        sa.Column('discount_error', sa.Text(), nullable=True),
        sa.Column('discount_error_at', UTCDateTime(), nullable=True),
    ]


def upgrade() -> None:
    for column in step_columns():
        op.add_column('sequence_steps', column)
    for column in shop_columns():
        op.add_column('shops', column)
    op.create_table(
        'discounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('cart_id', sa.Integer(), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('value', Money(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('starts_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('platform_id', sa.String(length=255), nullable=True),
        sa.Column('lookup_first', sa.Boolean(), nullable=False),
        sa.Column('create_calls', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('order_id', sa.String(length=64), nullable=True),
        sa.Column('redeemed_at', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('cart_id', 'step', name='uq_discounts_cart_step'),
        sa.UniqueConstraint('shop_id', 'code', name='uq_discounts_shop_code'),
    )
    op.create_index('ix_discounts_status_expires', 'discounts', ['status', 'expires_at'])


def downgrade() -> None:
    op.drop_index('ix_discounts_status_expires', table_name='discounts')
    op.drop_table('discounts')
    with op.batch_alter_table('shops') as batch:
        for column in shop_columns():
            batch.drop_column(column.name)
    with op.batch_alter_table('sequence_steps') as batch:
        for column in step_columns():
            batch.drop_column(column.name)
