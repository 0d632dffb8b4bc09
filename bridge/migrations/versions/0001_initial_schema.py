"""Initial schema: shops, sequences, templates, the webhook inbox, carts, steps, messages, orders, outbox.

Revision ID: 0001
Revises: 


"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from bridge.db.types import Money, UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('shops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('abandon_after_minutes', sa.Integer(), nullable=False),
    sa.Column('order_match_window_minutes', sa.Integer(), nullable=False),
    sa.Column('sender_name', sa.String(length=255), nullable=True),
    sa.Column('sender_email', sa.String(length=320), nullable=True),
    sa.Column('access_token_enc', sa.LargeBinary(), nullable=True),
    sa.Column('consumer_key_enc', sa.LargeBinary(), nullable=True),
    sa.Column('consumer_secret_enc', sa.LargeBinary(), nullable=True),
    sa.Column('webhook_secret_enc', sa.LargeBinary(), nullable=True),
    sa.Column('webhook_secret_previous_enc', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform', 'domain', name='uq_shops_platform_domain')
    )
    op.create_table('carts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('cart_token', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('first_name', sa.String(length=255), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal', Money(), nullable=False),
    sa.Column('total', Money(), nullable=False),
    sa.Column('recovery_url', sa.Text(), nullable=True),
    sa.Column('accepts_marketing', sa.Boolean(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('platform_updated_at', UTCDateTime(), nullable=False),
    sa.Column('abandon_at', UTCDateTime(), nullable=True),
    sa.Column('abandoned_at', UTCDateTime(), nullable=True),
    sa.Column('closed_at', UTCDateTime(), nullable=True),
    sa.Column('order_id', sa.String(length=64), nullable=True),
    sa.Column('order_total', Money(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shop_id', 'external_id', name='uq_carts_shop_external')
    )
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.create_index('ix_carts_shop_cart_token', ['shop_id', 'cart_token'], unique=False)
        batch_op.create_index('ix_carts_shop_customer', ['shop_id', 'customer_id'], unique=False)
        batch_op.create_index('ix_carts_shop_email', ['shop_id', 'email'], unique=False)
        batch_op.create_index('ix_carts_state_abandon_at', ['state', 'abandon_at'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('checkout_ref', sa.String(length=255), nullable=True),
    sa.Column('cart_token', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('customer_id', sa.String(length=64), nullable=True),
    sa.Column('total', Money(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('placed_at', UTCDateTime(), nullable=False),
    sa.Column('received_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shop_id', 'order_id', name='uq_orders_shop_order')
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_shop_cart_token', ['shop_id', 'cart_token'], unique=False)
        batch_op.create_index('ix_orders_shop_checkout_ref', ['shop_id', 'checkout_ref'], unique=False)
        batch_op.create_index('ix_orders_shop_email', ['shop_id', 'email'], unique=False)
        batch_op.create_index('ix_orders_shop_customer', ['shop_id', 'customer_id'], unique=False)

    op.create_table('sequence_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('delay_minutes', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shop_id', 'position', name='uq_sequence_steps_shop_position')
    )
    op.create_table('templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shop_id', 'step', 'language', name='uq_templates_shop_step_language')
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('delivery_key', sa.String(length=255), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('meta', sa.JSON(), nullable=False),
    sa.Column('received_at', UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', UTCDateTime(), nullable=True),
    sa.Column('processed_at', UTCDateTime(), nullable=True),
    sa.Column('cart_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shop_id', 'delivery_key', name='uq_deliveries_shop_key')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_status_id', ['status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_cart_id'), ['cart_id'], unique=False)

    op.create_table('cart_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cart_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('variant_title', sa.Text(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', Money(), nullable=False),
    sa.Column('product_id', sa.String(length=64), nullable=True),
    sa.Column('variant_id', sa.String(length=64), nullable=True),
    sa.Column('sku', sa.String(length=255), nullable=True),
    sa.Column('image_url', sa.Text(), nullable=True),
    sa.Column('product_url', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cart_id', 'position', name='uq_cart_items_cart_position')
    )
    op.create_table('reminder_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cart_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('due_at', UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claim_token', sa.String(length=64), nullable=True),
    sa.Column('claim_expires_at', UTCDateTime(), nullable=True),
    sa.Column('sent_at', UTCDateTime(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cart_id', 'position', name='uq_reminder_steps_cart_position')
    )
    with op.batch_alter_table('reminder_steps', schema=None) as batch_op:
        batch_op.create_index('ix_reminder_steps_status_due', ['status', 'due_at'], unique=False)

    op.create_table('messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('cart_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('to_email', sa.String(length=320), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provider_message_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('sent_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['reminder_steps.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('step_id', name='uq_messages_step')
    )
    op.create_table('message_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('finished_at', UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', 'number', name='uq_message_attempts_number')
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('shop_id', sa.Integer(), nullable=False),
    sa.Column('to_email', sa.String(length=320), nullable=False),
    sa.Column('from_email', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', name='uq_outbox_message')
    )


    _fast_toast_compression()


# Rendered messages (~10-20 KB of HTML) and raw webhook bodies (~5 KB) are TOASTed on
# every insert; PostgreSQL's default pglz costs more CPU than the rest of the insert.
# LZ4 (PostgreSQL 14+, when built with it) compresses several times faster.
LZ4_COLUMNS = (("messages", "html"), ("messages", "text"), ("outbox", "html"), ("outbox", "text"),
               ("webhook_deliveries", "body"))


def _fast_toast_compression() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():  # a server without LZ4 keeps its default; nothing else changes
            for table, column in LZ4_COLUMNS:
                op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")
    except sa.exc.DBAPIError:
        pass


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('outbox')
    op.drop_table('message_attempts')
    op.drop_table('messages')
    with op.batch_alter_table('reminder_steps', schema=None) as batch_op:
        batch_op.drop_index('ix_reminder_steps_status_due')

    op.drop_table('reminder_steps')
    op.drop_table('cart_items')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_cart_id'))
        batch_op.drop_index('ix_deliveries_status_id')

    op.drop_table('webhook_deliveries')
    op.drop_table('templates')
    op.drop_table('sequence_steps')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_shop_customer')
        batch_op.drop_index('ix_orders_shop_email')
        batch_op.drop_index('ix_orders_shop_checkout_ref')
        batch_op.drop_index('ix_orders_shop_cart_token')

    op.drop_table('orders')
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.drop_index('ix_carts_state_abandon_at')
        batch_op.drop_index('ix_carts_shop_email')
        batch_op.drop_index('ix_carts_shop_customer')
        batch_op.drop_index('ix_carts_shop_cart_token')

    op.drop_table('carts')
    op.drop_table('shops')
