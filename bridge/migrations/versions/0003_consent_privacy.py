"""Opt-outs, consent policy, sending manners, provider events, privacy requests, retention.

Existing shops get the same defaults as new ones (consent: first reminder only; at most
one message per 16 h; quiet 21:00-08:00; re-entry after 7 days; open-order check on):
each of them only ever holds a message back, never sends one more.

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from bridge.db.types import UTCDateTime

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def shop_columns() -> list[sa.Column]:
    return [
        sa.Column('consent_policy', sa.String(length=16), nullable=False, server_default='first_only'),
        sa.Column('frequency_cap_hours', sa.Integer(), nullable=False, server_default='16'),
        sa.Column('quiet_hours_start', sa.Integer(), nullable=False, server_default='21'),
        sa.Column('quiet_hours_end', sa.Integer(), nullable=False, server_default='8'),
        sa.Column('reentry_cooldown_days', sa.Integer(), nullable=False, server_default='7'),
        sa.Column('open_order_check', sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column('uninstalled_at', UTCDateTime(), nullable=True),
    ]


def cart_columns() -> list[sa.Column]:
    return [
        sa.Column('email_hash', sa.String(length=64), nullable=True),
        sa.Column('phone_hash', sa.String(length=64), nullable=True),
        sa.Column('country', sa.String(length=2), nullable=True),
        sa.Column('timezone', sa.String(length=64), nullable=True),
    ]


def message_columns() -> list[sa.Column]:
    return [sa.Column('provider_status', sa.String(length=32), nullable=True)] + [
        sa.Column(name, UTCDateTime(), nullable=True)
        for name in ('delivered_at', 'opened_at', 'clicked_at', 'bounced_at', 'complained_at')]


def _shop_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], ondelete='CASCADE')


def _contact_table(name: str, *columns: sa.Column) -> None:
    op.create_table(
        name,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('contact_hash', sa.String(length=64), nullable=False),
        *columns,
        _shop_fk(),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shop_id', 'contact_hash', name=f'uq_{name}_shop_contact'),
    )


def upgrade() -> None:
    for table, columns in (('shops', shop_columns()), ('carts', cart_columns()), ('messages', message_columns())):
        for column in columns:
            op.add_column(table, column)
    op.create_index('ix_carts_shop_email_hash', 'carts', ['shop_id', 'email_hash'])
    op.create_index('ix_carts_shop_phone_hash', 'carts', ['shop_id', 'phone_hash'])
    _contact_table(
        'opt_outs',
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('display', sa.String(length=320), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=True),
        sa.Column('removed_at', UTCDateTime(), nullable=True),
        sa.Column('removed_by', sa.String(length=64), nullable=True),
    )
    _contact_table(
        'contact_ledger',
        sa.Column('last_message_at', UTCDateTime(), nullable=True),
        sa.Column('last_step_id', sa.Integer(), nullable=True),
        sa.Column('sequence_cart_id', sa.Integer(), nullable=True),
        sa.Column('sequence_started_at', UTCDateTime(), nullable=True),
    )
    _contact_table(
        'open_order_checks',
        sa.Column('open_order', sa.String(length=255), nullable=True),
        sa.Column('checked_at', UTCDateTime(), nullable=False),
    )
    op.create_table(
        'provider_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=16), nullable=False),
        sa.Column('event_id', sa.String(length=128), nullable=False),
        sa.Column('event', sa.String(length=32), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('shop_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.LargeBinary(), nullable=False),
        sa.Column('occurred_at', UTCDateTime(), nullable=True),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('processed_at', UTCDateTime(), nullable=True),
        _shop_fk(),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('provider', 'event_id', name='uq_provider_events_event'),
    )
    op.create_index('ix_provider_events_status_id', 'provider_events', ['status', 'id'])
    op.create_table(
        'privacy_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shop_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('reference', sa.String(length=64), nullable=True),
        sa.Column('contact_hash', sa.String(length=64), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        _shop_fk(),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_privacy_requests_shop_created', 'privacy_requests', ['shop_id', 'created_at'])
    op.create_table(
        'job_runs',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('last_run_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('job_runs')
    op.drop_index('ix_privacy_requests_shop_created', table_name='privacy_requests')
    op.drop_table('privacy_requests')
    op.drop_index('ix_provider_events_status_id', table_name='provider_events')
    op.drop_table('provider_events')
    for name in ('open_order_checks', 'contact_ledger', 'opt_outs'):
        op.drop_table(name)
    op.drop_index('ix_carts_shop_phone_hash', table_name='carts')
    op.drop_index('ix_carts_shop_email_hash', table_name='carts')
    for table, columns in (('messages', message_columns()), ('carts', cart_columns()), ('shops', shop_columns())):
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column.name)
