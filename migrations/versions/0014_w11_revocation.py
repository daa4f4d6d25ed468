"""revocation: task runs of the scheduler, CRLs and pre-signed OCSP responses per issuing
CA, revocation columns on certificates and CAs

Revision ID: 0009_w11_revocation
Revises: 0005_w4_providers
Create Date: 2026-12-01 17:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0009_w11_revocation'
down_revision = '0009_w15_acme_server'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'task_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task', sa.String(length=32), nullable=False),
        sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('runner', sa.String(length=200), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_runs')),
        sa.UniqueConstraint('task', 'period_start', name='uq_task_runs_task_period'),
    )
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_runs_started_at'), ['started_at'],
                              unique=False)

    op.create_table(
        'crls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ca_id', sa.Uuid(), nullable=False),
        sa.Column('number', sa.BigInteger(), nullable=False),
        sa.Column('this_update', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_update', sa.DateTime(timezone=True), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.Column('der', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ca_id'], ['certificate_authorities.id'],
                                name=op.f('fk_crls_ca_id_certificate_authorities'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_crls')),
        sa.UniqueConstraint('ca_id', 'number', name='uq_crls_ca_number'),
    )

    op.create_table(
        'ocsp_responses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issuer_ca_id', sa.Uuid(), nullable=False),
        sa.Column('serial_hex', sa.String(length=64), nullable=False),
        sa.Column('cert_status', sa.String(length=16), nullable=False),
        sa.Column('this_update', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_update', sa.DateTime(timezone=True), nullable=False),
        sa.Column('der', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['issuer_ca_id'], ['certificate_authorities.id'],
                                name=op.f('fk_ocsp_responses_issuer_ca_id_certificate_authorities'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ocsp_responses')),
        sa.UniqueConstraint('issuer_ca_id', 'serial_hex', name='uq_ocsp_responses_issuer_serial'),
    )
    with op.batch_alter_table('ocsp_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ocsp_responses_next_update'), ['next_update'],
                              unique=False)

    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revocation_pending', sa.String(length=32),
                                      nullable=True))
        batch_op.add_column(sa.Column('revocation_error', sa.Text(), nullable=True))
        batch_op.create_index('ix_certificates_issuer_serial', ['issuer_ca_id', 'serial_hex'],
                              unique=False)

    with op.batch_alter_table('certificate_authorities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revocation_reason', sa.String(length=32),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table('certificate_authorities', schema=None) as batch_op:
        batch_op.drop_column('revocation_reason')
        batch_op.drop_column('revoked_at')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_issuer_serial')
        batch_op.drop_column('revocation_error')
        batch_op.drop_column('revocation_pending')
    with op.batch_alter_table('ocsp_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ocsp_responses_next_update'))
    op.drop_table('ocsp_responses')
    op.drop_table('crls')
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_runs_started_at'))
    op.drop_table('task_runs')
