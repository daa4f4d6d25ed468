"""orders and certificates: the name-search trigram indexes with a small pending list

0017_w18 and 0018_w18 turned GIN's ``fastupdate`` off so that a search never reads a
pending list of up to 4 MB (~306 pages, ~2.5 ms a search). But then every write of an
order inserts each of its name's ~20 trigrams into the index one by one — three times an
order (submitted, claimed, completed: ``status`` is indexed, so no move is a HOT update)
— ~0.2 ms of PostgreSQL CPU an order, a quarter of the database's whole share of an
issuance (docs/performance.md, "The trigram indexes' write cost").

A pending list of 128 kB (16 pages) keeps both: new entries are appended to the list and
merged into the index in bulk (sorted by trigram, one posting-list update per trigram for
some hundreds of rows) by the write that overflows it; a search reads at most 16 pages of
list (~0.1 ms). PostgreSQL's ``gin_pending_list_limit`` is set per index.

SQLite has no trigram indexes; nothing changes there.

Revision ID: 0020_w18_search_write_cost
Revises: 0019_w18_home_counts
"""
from alembic import op

revision = "0020_w18_search_write_cost"
down_revision = "0019_w18_home_counts"
branch_labels = None
depends_on = None

INDEXES = ("ix_orders_common_name_trgm", "ix_certificates_names_trgm")
PENDING_LIST_KB = 128


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = on, "
                   f"gin_pending_list_limit = {PENDING_LIST_KB})")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in INDEXES:
        op.execute(f"ALTER INDEX {index} SET (fastupdate = off)")
        op.execute(f"ALTER INDEX {index} RESET (gin_pending_list_limit)")
        op.execute(f"SELECT gin_clean_pending_list('{index}'::regclass)")
