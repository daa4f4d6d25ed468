"""The Orders page's status cards: exact while a set is small, shared through Redis for a
few seconds once it is large, counted in the database when Redis is down."""
from __future__ import annotations

import json
import re

import pytest
from redis import Redis

from app.services import order_counts
from tests.conftest import login
from tests.web.test_orders import _submit
from tests.web.test_orders import setup as setup  # the fixture


def _pending(page: str) -> int:
    match = re.search(r'data-status="pending"><header>Pending</header><p class="big" '
                      r'data-count="(\d+)"', page)
    assert match, "no pending card on the page"
    return int(match.group(1))


@pytest.fixture
def redis(app):
    connection = Redis.from_url(app.config["REDIS_URL"])
    yield connection
    keys = list(connection.scan_iter(order_counts.PREFIX + "*"))
    if keys:
        connection.delete(*keys)


def test_small_sets_are_counted_exactly_on_every_view(app, client, setup, redis) -> None:
    _submit(app, "u1@example.com", cn="one.example.com", issuer=setup)
    login(client)
    assert _pending(client.get("/orders/").get_data(as_text=True)) == 1
    _submit(app, "u1@example.com", cn="two.example.com", issuer=setup)
    assert _pending(client.get("/orders/").get_data(as_text=True)) == 2
    assert not list(redis.scan_iter(order_counts.PREFIX + "*"))


def test_large_sets_share_counts_for_a_few_seconds_per_scope_and_filters(
        app, client, setup, redis, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "ORDER_COUNTS_CACHE_MIN_ROWS", 1)
    monkeypatch.setitem(app.config, "ORDER_COUNTS_CACHE_SECONDS", 60)
    _submit(app, "u1@example.com", cn="one.example.com", issuer=setup)
    login(client)
    assert _pending(client.get("/orders/").get_data(as_text=True)) == 1
    _submit(app, "u2@example.com", cn="two.example.com", issuer=setup)
    # Within the interval the admin's cards (and their htmx refresh) show the shared counts…
    assert _pending(client.get("/orders/").get_data(as_text=True)) == 1
    cards = client.get("/orders/?part=cards", headers={"HX-Request": "true"})
    assert _pending(cards.get_data(as_text=True)) == 1
    # …the status filter does not split the entry (the cards ignore it), other filters do…
    assert _pending(client.get("/orders/?status=failed").get_data(as_text=True)) == 1
    assert _pending(client.get("/orders/?q=two").get_data(as_text=True)) == 1
    # …and another viewer's scope is its own entry: u2 sees only their own order.
    other = app.test_client()
    login(other, "u2@example.com")
    assert _pending(other.get("/orders/").get_data(as_text=True)) == 1
    assert "one.example.com" not in other.get("/orders/").get_data(as_text=True)
    # The interval over, the cards count again.
    for key in redis.scan_iter(order_counts.PREFIX + "*"):
        if not key.endswith((b":stale", b":lock")):
            redis.delete(key)
    assert _pending(client.get("/orders/").get_data(as_text=True)) == 2


def test_while_one_request_recounts_the_others_get_the_previous_counts(app, redis) -> None:
    key = order_counts.cache_key({"scope": "all"})
    redis.set(key + ":stale", json.dumps({"pending": 7}))
    redis.set(key + ":lock", b"1")

    def count() -> dict[str, int]:
        raise AssertionError("counted although another request holds the lock")

    with app.app_context():
        assert order_counts.counts_for({"scope": "all"}, count) == {"pending": 7}


def test_redis_down_means_counting_in_the_database(app, client, setup, monkeypatch) -> None:
    _submit(app, "u1@example.com", cn="one.example.com", issuer=setup)
    login(client)
    monkeypatch.setitem(app.config, "ORDER_COUNTS_CACHE_MIN_ROWS", 1)
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    assert _pending(client.get("/orders/").get_data(as_text=True)) == 1


def test_htmx_partials_query_only_what_they_show(app, client, setup, redis) -> None:
    _submit(app, "u1@example.com", cn="one.example.com", issuer=setup)
    login(client)
    cards = client.get("/orders/?part=cards", headers={"HX-Request": "true"})
    body = cards.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="order-cards"') and "one.example.com" not in body
    results = client.get("/orders/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "one.example.com" in results and 'id="order-cards"' not in results
