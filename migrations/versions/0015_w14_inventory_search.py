"""certificates: trigram indexes for the inventory's search by name (PostgreSQL)

The inventory searches the common name and the SAN list by substring
(``lower(common_name) LIKE '%q%' OR lower(CAST(sans AS VARCHAR)) LIKE '%q%'``): a full
scan of 1,000,000 certificates without these (bench/inventory.py). SQLite has no trigram
indexes; nothing changes there.

Revision ID: 0010_w14_inventory_search
Revises: 0009_w14_renewals
"""
from alembic import op

revision = "0010_w14_inventory_search"
down_revision = "0009_w11_revocation"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_certificates_common_name_trgm": "lower(common_name) gin_trgm_ops",
    "ix_certificates_sans_trgm": "lower(CAST(sans AS VARCHAR)) gin_trgm_ops",
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, expression in INDEXES.items():
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON certificates USING gin ({expression})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
