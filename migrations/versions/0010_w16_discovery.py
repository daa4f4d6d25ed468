"""discovery: certificate locations, scan targets, scans and their results; certificates
remember when they were last seen served

Revision ID: 0009_w16_discovery
Revises: 0005_w4_providers
Create Date: 2026-12-01 17:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0009_w16_discovery'
down_revision = '0009_w13_submission_marker'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True),
                                      nullable=True))

    op.create_table(
        'certificate_locations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('certificate_id', sa.Uuid(), nullable=False),
        sa.Column('host', sa.String(length=253), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('server_name', sa.String(length=253), nullable=False),
        sa.Column('address', sa.String(length=64), nullable=False),
        sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'],
                                name=op.f('fk_certificate_locations_certificate_id_certificates'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_locations')),
        sa.UniqueConstraint('certificate_id', 'host', 'port', 'server_name',
                            name='uq_certificate_locations_endpoint'))
    with op.batch_alter_table('certificate_locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_locations_certificate_id'),
                              ['certificate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_locations_last_seen_at'),
                              ['last_seen_at'], unique=False)

    op.create_table(
        'discovery_targets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=253), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('server_name', sa.String(length=253), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_by_user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_scanned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status', sa.String(length=16), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_fingerprint', sa.String(length=95), nullable=True),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'],
                                name=op.f('fk_discovery_targets_created_by_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_discovery_targets')),
        sa.UniqueConstraint('host', 'port', 'server_name',
                            name='uq_discovery_targets_endpoint'))

    op.create_table(
        'discovery_scans',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('requested_by_user_id', sa.Integer(), nullable=True),
        sa.Column('requested_by', sa.String(length=254), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['requested_by_user_id'], ['users.id'],
                                name=op.f('fk_discovery_scans_requested_by_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_discovery_scans')))
    with op.batch_alter_table('discovery_scans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discovery_scans_created_at'), ['created_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_discovery_scans_status'), ['status'],
                              unique=False)

    op.create_table(
        'discovery_scan_results',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scan_id', sa.Uuid(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(length=253), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('server_name', sa.String(length=253), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('error_code', sa.String(length=32), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('certificate_id', sa.Uuid(), nullable=True),
        sa.Column('fingerprint_sha256', sa.String(length=95), nullable=True),
        sa.Column('chain_length', sa.Integer(), nullable=False),
        sa.Column('new_certificate', sa.Boolean(), nullable=False),
        sa.Column('previous_fingerprint', sa.String(length=95), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'],
                                name=op.f('fk_discovery_scan_results_certificate_id_certificates'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['scan_id'], ['discovery_scans.id'],
                                name=op.f('fk_discovery_scan_results_scan_id_discovery_scans'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_discovery_scan_results')))
    with op.batch_alter_table('discovery_scan_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discovery_scan_results_scan_id'), ['scan_id'],
                              unique=False)


def downgrade():
    op.drop_table('discovery_scan_results')
    op.drop_table('discovery_scans')
    op.drop_table('discovery_targets')
    op.drop_table('certificate_locations')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_column('last_seen_at')
