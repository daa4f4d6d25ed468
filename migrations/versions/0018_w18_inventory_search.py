"""certificates: the name-search trigram index without a pending list (PostgreSQL)

The same change as 0017_w18 for the orders' index: with GIN's ``fastupdate`` every search
of the inventory reads the pending list of names added since the last VACUUM (up to 4 MB).
Without it each new certificate updates the index at once (docs/performance.md,
"Orders page search").

Revision ID: 0018_w18_inventory_search
Revises: 0017_w18_orders_search
"""
from alembic import op

revision = "0018_w18_inventory_search"
down_revision = "0017_w18_orders_search"
branch_labels = None
depends_on = None

INDEX = "ix_certificates_names_trgm"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {INDEX} SET (fastupdate = off)")
    op.execute(f"SELECT gin_clean_pending_list('{INDEX}'::regclass)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {INDEX} RESET (fastupdate)")
