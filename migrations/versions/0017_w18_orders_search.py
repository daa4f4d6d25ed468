"""orders: the common-name trigram index without a pending list (PostgreSQL)

With GIN's ``fastupdate`` (the default) new orders go to the index's pending list first, up
to ``gin_pending_list_limit`` (4 MB), and every search reads that whole list: at the end of
bench/orders_page.py's seeding 306 pages, ~2.5 ms per search query, twice per view (page
and status cards) — more than the index search itself once the search leaves out the
trigrams nearly every name has (app/services/order_queries.py). The list is emptied only
by VACUUM or by the insert that overflows it (which then merges 4 MB into the index while
its request waits). Without it each new order updates the index at once: a little more work per
insert, a steady search (docs/performance.md, "Orders page search").

SQLite has no trigram indexes; nothing changes there.

Revision ID: 0017_w18_orders_search
Revises: 0009_w12_ca_profile
"""
from alembic import op

revision = "0017_w18_orders_search"
down_revision = "0009_w12_ca_profile"
branch_labels = None
depends_on = None

INDEX = "ix_orders_common_name_trgm"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {INDEX} SET (fastupdate = off)")
    # What is pending now moves into the index (turning fastupdate off does not do that).
    op.execute(f"SELECT gin_clean_pending_list('{INDEX}'::regclass)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER INDEX {INDEX} RESET (fastupdate)")
