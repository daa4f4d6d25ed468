"""certificates: a trigram index for the inventory's search by name (PostgreSQL)

The inventory searches the common name and the SAN list by substring
(``lower(common_name || ' ' || CAST(sans AS VARCHAR)) LIKE '%q%'``): a full scan of
1,000,000 certificates without this index (bench/inventory.py). SQLite has no trigram
indexes; nothing changes there.

Revision ID: 0010_w14_inventory_search
Revises: 0009_w14_renewals
"""
from alembic import op

revision = "0010_w14_inventory_search"
down_revision = "0009_w11_revocation"
branch_labels = None
depends_on = None

#: One index over the expression the search reads (app/services/certificates.py::search_text):
#: the CN, a space and the SAN list's JSON text. One index scan instead of two (CN OR SANs).
INDEXES = {
    "ix_certificates_names_trgm":
        "lower(common_name || ' ' || CAST(sans AS VARCHAR)) gin_trgm_ops",
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
