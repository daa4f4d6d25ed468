"""intermediate CAs: the extended key usages they may certify and their permitted DNS
subtrees (name constraints)

Revision ID: 0009_w12_ca_profile
Revises: 0005_w4_providers
Create Date: 2026-12-01 18:50:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0009_w12_ca_profile'
down_revision = '0010_w14_inventory_search'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('certificate_authorities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('extended_key_usage', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('permitted_dns', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('certificate_authorities', schema=None) as batch_op:
        batch_op.drop_column('permitted_dns')
        batch_op.drop_column('extended_key_usage')
