"""orders remember when a worker started sending them to an external CA (orphan guard:
a worker lost mid-submission is never followed by a second submission)

Revision ID: 0009_w13_submission_marker
Revises: 0005_w4_providers
Create Date: 2026-12-01 18:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0009_w13_submission_marker'
down_revision = '0005_w4_providers'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('ca_submission_started_at', sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade():
    with op.batch_alter_table('orders') as batch:
        batch.drop_column('ca_submission_started_at')
