"""The Orders page's common-name search: case-insensitive contains, scoped to the viewer,
the same rows whether the trigram index is searched with the whole fragment or only with
its selective part (PostgreSQL; app/services/order_queries.py)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select, text

from app.domain.trigrams import index_pattern, trigram_shares
from app.extensions import db
from app.models import Order, User
from app.models.base import utcnow
from app.models.providers import Provider
from app.services import order_queries, trigram_search
from app.services.order_queries import OrderFilters
from tests.conftest import login, make_user

NAMES = (
    "host-4242.d242.example.com", "HOST-4242.d1.example.com", "xhost-42420y.example.com",
    "host-424.example.com", "4242-host.example.com", "host_4242.example.com",
    "hostx4242.example.com", "host%4242.example.com", "host/4242.example.com",
    "other.example.org",
)
#: A sample of names in which "host", "example" and "com" are in every name.
COMMON_HOST = [(f"host-{n}.d{n % 7}.example.com", 1.0) for n in range(100)]
SHARES = trigram_shares(COMMON_HOST)
FRAGMENTS = ("host-4242", "HOST-4242", "ost-424", "host_4242", "host%4242", "host/4242",
             "4242", "example", "st-4242.d", "-42", "host-4242.d242.example.com", "nothing")


def _order(owner: User, name: str, age: int, status: str = "complete") -> Order:
    provider = db.session.scalar(select(Provider.id).where(Provider.type == "builtin"))
    return Order(type="local_pki", pathway="wizard", status=status, common_name=name,
                 request={"common_name": name}, provider_id=provider,
                 requested_by_user_id=owner.id, requested_by_label=owner.email,
                 requested_by_kind="user", submitted_at=utcnow() - timedelta(seconds=age))


@pytest.fixture
def orders(app):
    """NAMES, the even ones u1's and the odd ones u2's; every third one failed."""
    make_user(app)
    make_user(app, "u1@example.com", role="user")
    make_user(app, "u2@example.com", role="user")
    with app.app_context():
        owners = [db.session.scalar(select(User).where(User.email == email))
                  for email in ("u1@example.com", "u2@example.com")]
        db.session.add_all(_order(owners[i % 2], name, age=i,
                                  status="failed" if i % 3 == 0 else "complete")
                           for i, name in enumerate(NAMES))
        db.session.commit()
    return NAMES


def _viewer(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


@pytest.mark.parametrize("few", [1000, 0], ids=["sorted-after", "index-order"])
@pytest.mark.parametrize("sample", [[], COMMON_HOST], ids=["whole-fragment", "selective-part"])
@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_search_finds_exactly_the_names_containing_the_fragment(
        app, orders, monkeypatch, fragment, sample, few) -> None:
    monkeypatch.setattr(trigram_search, "shares_of", lambda *_: trigram_shares(sample))
    monkeypatch.setattr(order_queries, "FEW_MATCHES", few)
    expected = [n for n in NAMES if fragment.lower() in n.lower()]
    with app.app_context():
        for email, owned in (("admin@example.com", NAMES), ("u1@example.com", NAMES[::2])):
            viewer, filters = _viewer(email), OrderFilters(q=fragment)
            rows, _ = order_queries.page_of_orders(viewer, filters, None, 100)
            mine = [n for n in expected if n in owned]
            assert [o.common_name for o in rows] == mine  # newest first
            counts = order_queries.status_counts(viewer, filters)
            assert sum(counts.values()) == len(mine)
            assert counts["failed"] == sum(1 for n in mine if NAMES.index(n) % 3 == 0)


@pytest.mark.parametrize("few", [1000, 0], ids=["sorted-after", "index-order"])
def test_search_pages_and_status_filter_with_the_selective_part(
        app, orders, monkeypatch, few) -> None:
    monkeypatch.setattr(trigram_search, "shares_of", lambda *_: SHARES)
    monkeypatch.setattr(order_queries, "FEW_MATCHES", few)
    with app.app_context():
        admin, filters = _viewer("admin@example.com"), OrderFilters(q="4242", status="failed")
        rows, _ = order_queries.page_of_orders(admin, filters, None, 100)
        assert [o.common_name for o in rows] == [
            n for i, n in enumerate(NAMES) if "4242" in n and i % 3 == 0]
        filters, seen, cursor = OrderFilters(q="host-4242"), [], None
        while True:
            rows, cursor = order_queries.page_of_orders(admin, filters, cursor, 1)
            seen += [o.common_name for o in rows]
            if cursor is None:
                break
        assert seen == [n for n in NAMES if "host-4242" in n.lower()]


def test_search_through_the_page(app, client, orders, monkeypatch) -> None:
    monkeypatch.setattr(trigram_search, "shares_of", lambda *_: SHARES)
    login(client, "u2@example.com")
    page = client.get("/orders/?q=HOST-4242").get_data(as_text=True)
    assert "HOST-4242.d1.example.com" in page  # u2's
    assert "host-4242.d242.example.com" not in page and "xhost-42420y" not in page


@pytest.mark.parametrize("few", [1000, 2])
def test_a_search_counts_once_and_sorts_few_matches_after_finding_them(
        app, client, orders, monkeypatch, few) -> None:
    monkeypatch.setattr(order_queries, "FEW_MATCHES", few)
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(" ".join(statement.split()))

    login(client)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = client.get("/orders/?q=host-4242").get_data(as_text=True)  # 3 matches
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "xhost-42420y.example.com" in page and "4242-host" not in page
    on_orders = [s for s in statements if "FROM orders" in s]
    assert len(on_orders) == 2, on_orders
    counts, [page] = ([s for s in on_orders if "GROUP BY orders.status" in s],
                      [s for s in on_orders if "ORDER BY" in s])
    assert len(counts) == 1                                  # the cards' count, once
    sorted_after = engine.dialect.name == "postgresql" and few >= 3
    assert ("ORDER BY orders.submitted_at + interval '0' DESC" in page) == sorted_after


def test_the_index_is_searched_with_the_rare_part_on_postgresql(
        app, orders, monkeypatch) -> None:
    monkeypatch.setattr(trigram_search, "shares_of", lambda *_: SHARES)
    with app.app_context():
        query = order_queries._filtered(select(Order.id), OrderFilters(q="host-4242"))
        sql = str(query.compile(dialect=db.engine.dialect,
                                compile_kwargs={"literal_binds": True}))
        if db.engine.dialect.name == "postgresql":
            assert "4242%" in sql and "host-4242%" not in sql
            assert "strpos(lower(orders.common_name), 'host-4242') > 0" in sql
        else:
            assert "strpos" not in sql


def test_the_trigram_shares_come_from_the_planners_sample(app, orders) -> None:
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("pg_stats is PostgreSQL's")
        db.session.execute(text("ANALYZE orders"))
        trigram_search._samples.clear()
        shares = trigram_search.shares_of("orders", "common_name")
        db.session.rollback()
    assert shares["exa"] == pytest.approx(1.0)         # every name has "example"
    assert shares["hos"] == pytest.approx(0.9)         # all but "other.example.org"
    assert shares["  o"] == pytest.approx(0.1)


# ---- the pattern the index is searched with ------------------------------------------------

def test_the_index_is_searched_with_the_rare_parts_of_the_words() -> None:
    assert index_pattern("host-4242", SHARES) == "%4242%"
    assert index_pattern("host-4242.d242.example.com", SHARES) == "%4242%d242%"
    assert index_pattern("api.example", SHARES) == "%api%"
    assert index_pattern("hostx-4242", SHARES) == "%stx%4242%"   # "hos", "ost" are common
    # The pieces of one word never overlap: "abcdef" with "bcd" common must not ask for
    # "abc" and then "cdef" (the name "abcdef" has no "cdef" after its "abc").
    shares = {"abc": 0.0, "bcd": 0.5, "cde": 0.0, "def": 0.0}
    assert index_pattern("abcdef", shares) == "%abc%def%"
    assert index_pattern("abcde", shares) == "%abc%"


def test_the_whole_fragment_when_no_trigram_is_common_or_nothing_rare_is_left() -> None:
    assert index_pattern("host-4242", {}) is None                # no statistics yet
    assert index_pattern("4242", SHARES) is None                 # no common trigram
    assert index_pattern("qwerty", SHARES) is None
    assert index_pattern("example.com", SHARES) is None          # nothing rare
    assert index_pattern("host-42", SHARES) is None              # "42": no trigram of its own
    assert index_pattern("host-", SHARES) is None


def test_like_wildcards_in_the_fragment_never_reach_the_pattern() -> None:
    assert index_pattern("host_4242", SHARES) == "%4242%"
    assert index_pattern("host%4242/zzz", SHARES) == "%4242%zzz%"


def test_a_trigram_is_common_by_the_share_of_names_weighted() -> None:
    # One most-common value with 30 % of the rows outweighs 99 histogram names.
    sample = [("www.example.com", 0.3)] + [(f"n{i}.corp.net", 0.7 / 99) for i in range(99)]
    assert trigram_shares(sample)["www"] == pytest.approx(0.3)
    assert index_pattern("www.shop", trigram_shares(sample)) == "%shop%"
    assert index_pattern("corp.shop", trigram_shares(sample)) == "%shop%"
    sample = [("www.example.com", 0.05)] + [(f"n{i}.corp.net", 0.95 / 99) for i in range(99)]
    assert index_pattern("www.shop", trigram_shares(sample)) is None


def test_the_trigram_index_keeps_a_small_pending_list_on_postgresql(app) -> None:
    """Migration 0020_w18: a search reads at most 128 kB of GIN's pending list (the
    default 4 MB cost ~2.5 ms a search, 0017_w18), and a write appends its trigrams to the
    list instead of inserting each into the index (~0.2 ms of the database's CPU an
    order, 0020_w18)."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the trigram index is PostgreSQL's")
        options = db.session.scalar(text(
            "SELECT reloptions FROM pg_class WHERE relname = 'ix_orders_common_name_trgm'"))
        db.session.rollback()
    assert "fastupdate=on" in options
    assert "gin_pending_list_limit=128" in options
