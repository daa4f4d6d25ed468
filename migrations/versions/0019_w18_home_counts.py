"""certificates and alerts: partial indexes for the home page's lists and counts

The administrators' home counts the live certificates expiring within 30 days and the
open alerts; with a million certificates those are tens of thousands of rows each, and
the plain ``not_after`` index made PostgreSQL visit each certificate's row to check
``revoked``. Both counts are now index-only scans of partial indexes (~10 ms at
1,000,000 certificates and 118,000 open alerts). A user's own "expiring soonest" and
"newest open alerts" lists walked the whole ``not_after`` or alert ``id`` index looking
for the user's rows (0.33 s and 0.05 s); per-user partial indexes serve them directly.

Revision ID: 0019_w18_home_counts
Revises: 0018_w18_inventory_search
"""
import sqlalchemy as sa
from alembic import op

revision = "0019_w18_home_counts"
down_revision = "0018_w18_inventory_search"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_certificates_live_not_after", "certificates", ["not_after"],
                    postgresql_where=sa.text("revoked IS false"),
                    sqlite_where=sa.text("revoked IS 0"))
    op.create_index("ix_certificates_owner_live_not_after", "certificates",
                    ["owner_user_id", "not_after"], postgresql_where=sa.text("revoked IS false"),
                    sqlite_where=sa.text("revoked IS 0"))
    op.create_index("ix_certificate_alerts_open", "certificate_alerts", ["id"],
                    postgresql_where=sa.text("acknowledged_at IS NULL"),
                    sqlite_where=sa.text("acknowledged_at IS NULL"))
    op.create_index("ix_certificate_alerts_requester_open", "certificate_alerts",
                    ["requester_user_id", "id"],
                    postgresql_where=sa.text("acknowledged_at IS NULL"),
                    sqlite_where=sa.text("acknowledged_at IS NULL"))


def downgrade():
    op.drop_index("ix_certificate_alerts_requester_open", table_name="certificate_alerts")
    op.drop_index("ix_certificate_alerts_open", table_name="certificate_alerts")
    op.drop_index("ix_certificates_owner_live_not_after", table_name="certificates")
    op.drop_index("ix_certificates_live_not_after", table_name="certificates")
