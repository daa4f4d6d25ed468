"""certificate providers (Local PKI seeded), worker sealing keys, http-01 challenges;
orders reference their provider and can wait on an external CA

Revision ID: 0005_w4_providers
Revises: 0005_w3_alerts_audit
Create Date: 2026-12-02 10:00:00

"""
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0005_w4_providers'
down_revision = '0005_w3_alerts_audit'
branch_labels = None
depends_on = None

#: The Local PKI row every install starts with (a fixed id, so it reads the same in
#: every installation's API examples and logs).
LOCAL_PKI_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def upgrade():
    providers = op.create_table(
        'certificate_providers',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('type', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('config', sa.JSON(), nullable=False),
        sa.Column('secrets', sa.JSON(), nullable=False),
        sa.Column('account_url', sa.Text(), nullable=True),
        sa.Column('account_key_encrypted', sa.Text(), nullable=True),
        sa.Column('test_status', sa.String(length=16), nullable=True),
        sa.Column('test_steps', sa.JSON(), nullable=False),
        sa.Column('tested_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_providers')),
        sa.UniqueConstraint('name', name=op.f('uq_certificate_providers_name')))
    with op.batch_alter_table('certificate_providers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_providers_type'), ['type'],
                              unique=False)
    now = datetime.now(UTC)
    op.bulk_insert(providers, [{
        'id': LOCAL_PKI_ID, 'type': 'builtin', 'name': 'Local PKI', 'active': True,
        'config': {}, 'secrets': {}, 'test_steps': [], 'created_at': now,
        'updated_at': now}])

    op.create_table(
        'worker_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kid', sa.String(length=64), nullable=False),
        sa.Column('public_key_pem', sa.Text(), nullable=False),
        sa.Column('private_key_encrypted', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_keys')),
        sa.UniqueConstraint('kid', name=op.f('uq_worker_keys_kid')))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('next_check_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('checks', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('pending_key_encrypted', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('lint_findings', sa.JSON(), nullable=True))
    # Every order so far was a Local PKI order.
    op.execute(sa.text("UPDATE orders SET provider_id = :id").bindparams(
        sa.bindparam('id', LOCAL_PKI_ID, type_=sa.Uuid())))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('provider_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column('checks', server_default=None)
        batch_op.create_index(batch_op.f('ix_orders_provider_id'), ['provider_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_orders_next_check_at'), ['next_check_at'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_orders_provider_id_certificate_providers'),
                                    'certificate_providers', ['provider_id'], ['id'])
        batch_op.drop_column('provider')

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_id', sa.Uuid(), nullable=True))
        batch_op.alter_column('provider', existing_type=sa.String(length=32),
                              type_=sa.String(length=100), existing_nullable=False)
    op.execute(sa.text("UPDATE certificates SET provider = 'Local PKI', provider_id = :id "
                       "WHERE provider = 'builtin'").bindparams(
        sa.bindparam('id', LOCAL_PKI_ID, type_=sa.Uuid())))
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_provider_id'), ['provider_id'],
                              unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_certificates_provider_id_certificate_providers'),
            'certificate_providers', ['provider_id'], ['id'], ondelete='SET NULL')

    op.create_table(
        'provider_challenges',
        sa.Column('token', sa.String(length=128), nullable=False),
        sa.Column('key_authorization', sa.String(length=256), nullable=False),
        sa.Column('identifier', sa.String(length=253), nullable=False),
        sa.Column('provider_id', sa.Uuid(), nullable=False),
        sa.Column('order_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'],
                                name=op.f('fk_provider_challenges_order_id_orders'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['provider_id'], ['certificate_providers.id'],
            name=op.f('fk_provider_challenges_provider_id_certificate_providers'),
            ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token', name=op.f('pk_provider_challenges')))
    with op.batch_alter_table('provider_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_challenges_created_at'), ['created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_provider_challenges_order_id'), ['order_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_provider_challenges_provider_id'),
                              ['provider_id'], unique=False)


def downgrade():
    op.drop_table('provider_challenges')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_certificates_provider_id_certificate_providers'),
            type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_certificates_provider_id'))
        batch_op.drop_column('provider_id')
    op.execute("UPDATE certificates SET provider = 'builtin' WHERE provider = 'Local PKI'")
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.alter_column('provider', existing_type=sa.String(length=100),
                              type_=sa.String(length=32), existing_nullable=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider', sa.String(length=32), nullable=True))
    op.execute("UPDATE orders SET provider = (SELECT type FROM certificate_providers "
               "WHERE certificate_providers.id = orders.provider_id)")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.alter_column('provider', existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_orders_provider_id_certificate_providers'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_orders_next_check_at'))
        batch_op.drop_index(batch_op.f('ix_orders_provider_id'))
        for column in ('lint_findings', 'pending_key_encrypted', 'checks', 'next_check_at',
                       'external_id', 'provider_id'):
            batch_op.drop_column(column)
    op.drop_table('worker_keys')
    op.drop_table('certificate_providers')
