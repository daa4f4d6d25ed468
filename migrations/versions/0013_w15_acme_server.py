"""ACME server: servers, EAB-bound accounts with domain bindings, orders and
authorizations; orders remember the ACME account that requested them and the order and
certificate they renew (RFC 9773 replaces); certificates are found by serial (revokeCert,
renewal information)

Revision ID: 0009_w15_acme_server
Revises: 0005_w4_providers
Create Date: 2026-12-01 17:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0009_w15_acme_server'
down_revision = '0009_w14_renewals'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'acme_servers',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('issuer_id', sa.Uuid(), nullable=False),
        sa.Column('default_days', sa.Integer(), nullable=False),
        sa.Column('max_days', sa.Integer(), nullable=False),
        sa.Column('allowed_algorithms', sa.JSON(), nullable=False),
        sa.Column('digest', sa.String(length=16), nullable=False),
        sa.Column('terms_of_service_url', sa.Text(), nullable=True),
        sa.Column('orders_per_hour', sa.Integer(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['issuer_id'], ['certificate_authorities.id'],
                                name=op.f('fk_acme_servers_issuer_id_certificate_authorities')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_servers')),
        sa.UniqueConstraint('name', name=op.f('uq_acme_servers_name')),
    )
    with op.batch_alter_table('acme_servers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_servers_issuer_id'), ['issuer_id'],
                              unique=False)
    op.create_table(
        'acme_accounts',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('server_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('eab_kid', sa.String(length=64), nullable=False),
        sa.Column('eab_hmac_encrypted', sa.Text(), nullable=False),
        sa.Column('jwk', sa.JSON(), nullable=True),
        sa.Column('thumbprint', sa.String(length=64), nullable=True),
        sa.Column('contact', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['server_id'], ['acme_servers.id'],
                                name=op.f('fk_acme_accounts_server_id_acme_servers'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_accounts')),
        sa.UniqueConstraint('eab_kid', name=op.f('uq_acme_accounts_eab_kid')),
        sa.UniqueConstraint('server_id', 'name', name='uq_acme_accounts_name'),
        sa.UniqueConstraint('thumbprint', name=op.f('uq_acme_accounts_thumbprint')),
    )
    with op.batch_alter_table('acme_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_accounts_server_id'), ['server_id'],
                              unique=False)
    op.create_table(
        'acme_bindings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('domain_id', sa.Integer(), nullable=False),
        sa.Column('mode', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['acme_accounts.id'],
                                name=op.f('fk_acme_bindings_account_id_acme_accounts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['domain_id'], ['domains.id'],
                                name=op.f('fk_acme_bindings_domain_id_domains'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_bindings')),
        sa.UniqueConstraint('account_id', 'domain_id', name='uq_acme_bindings_domain'),
    )
    with op.batch_alter_table('acme_bindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_bindings_account_id'), ['account_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_acme_bindings_domain_id'), ['domain_id'],
                              unique=False)
    op.create_table(
        'acme_orders',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('account_id', sa.Uuid(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('identifiers', sa.JSON(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('validity_days', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Uuid(), nullable=True),
        sa.Column('replaces_certificate_id', sa.Uuid(), nullable=True),
        sa.Column('error', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['acme_accounts.id'],
                                name=op.f('fk_acme_orders_account_id_acme_accounts'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'],
                                name=op.f('fk_acme_orders_order_id_orders'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['replaces_certificate_id'], ['certificates.id'],
                                name=op.f('fk_acme_orders_replaces_certificate_id_certificates'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_orders')),
        sa.UniqueConstraint('order_id', name=op.f('uq_acme_orders_order_id')),
    )
    with op.batch_alter_table('acme_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_orders_account_id'), ['account_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_acme_orders_created_at'), ['created_at'],
                              unique=False)
    op.create_table(
        'acme_authorizations',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('acme_order_id', sa.Uuid(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('identifier_type', sa.String(length=8), nullable=False),
        sa.Column('identifier_value', sa.String(length=253), nullable=False),
        sa.Column('wildcard', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['acme_order_id'], ['acme_orders.id'],
                                name=op.f('fk_acme_authorizations_acme_order_id_acme_orders'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_authorizations')),
    )
    with op.batch_alter_table('acme_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_authorizations_acme_order_id'),
                              ['acme_order_id'], unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_by_acme_account_id', sa.Uuid(),
                                      nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_orders_requested_by_acme_account_id_acme_accounts'),
            'acme_accounts', ['requested_by_acme_account_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_orders_requested_by_acme_account_id'),
                              ['requested_by_acme_account_id'], unique=False)
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_serial_hex'), ['serial_hex'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_serial_hex'))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_requested_by_acme_account_id'))
        batch_op.drop_constraint(
            batch_op.f('fk_orders_requested_by_acme_account_id_acme_accounts'),
            type_='foreignkey')
        batch_op.drop_column('requested_by_acme_account_id')
    op.drop_table('acme_authorizations')
    op.drop_table('acme_orders')
    op.drop_table('acme_bindings')
    op.drop_table('acme_accounts')
    op.drop_table('acme_servers')
