"""certificate alerts: certificate_id references the certificate (set at issuance), indexed;
audit events indexed by resource (the audit log's resource filter)

Revision ID: 0005_w3_alerts_audit
Revises: 0006_w1_courier_keys
Create Date: 2026-12-02 10:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005_w3_alerts_audit'
down_revision = '0006_w1_courier_keys'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('certificate_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_alerts_certificate_id'),
                              ['certificate_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_certificate_alerts_certificate_id_certificates'), 'certificates',
            ['certificate_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_resource', ['resource_type', 'resource_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_resource')
    with op.batch_alter_table('certificate_alerts', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_certificate_alerts_certificate_id_certificates'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_certificate_alerts_certificate_id'))
