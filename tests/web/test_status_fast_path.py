"""The status poll's fast path (``app/web/status_fast_path.py``): a repeat htmx poll of an
open order is answered from the fragment the route kept for the same session, byte for
byte what the route sends; anything the route would answer differently goes to the route.

Each test drives the real layer with an inner app that records whether it was reached,
so "answered by the fast path" is observed, not inferred."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, func, select, update
from werkzeug.test import EnvironBuilder

from app.extensions import db
from app.models import CertificateAlert, Order, OrderEvent, User, UserSession
from app.models.base import utcnow
from app.services import status_fragments
from app.web.status_fast_path import StatusFastPath
from tests.conftest import login, post
from tests.web.test_orders import _submit
from tests.web.test_orders import setup as setup  # the fixture

HTMX = {"HX-Request": "true"}
SKIPPED = "HEADERS-ONLY"


class Inner:
    """Stands in for Flask behind the layer: records that a request reached it."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls += 1
        start_response("599 Reached Flask", [])
        return [b""]


def _layer(app, **overrides: Any) -> tuple[StatusFastPath, Inner]:
    inner = Inner()
    with app.app_context():
        layer = StatusFastPath(inner, app, status_fragments.PollReader(db.engine))
    for name, value in overrides.items():
        setattr(layer, name, value)
    return layer, inner


def _ask(layer: StatusFastPath, client, order_id: str, headers: dict[str, str] | None = None,
         query: str = "") -> tuple[str, dict[str, str], bytes]:
    cookie = client.get_cookie("session")
    builder = EnvironBuilder(path=f"/orders/{order_id}/status", query_string=query,
                             headers={**HTMX, **(headers if headers is not None else {}),
                                      **({"Cookie": f"session={cookie.value}"} if cookie else {})})
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(layer(builder.get_environ(), start_response))
    return seen["status"], seen["headers"], body


def _poll(client, order_id: str):
    return client.get(f"/orders/{order_id}/status", headers=HTMX)


def _answered_by_fast_path(app, client, setup) -> tuple[str, StatusFastPath]:
    """u1's open order, polled once through the route, and a layer that now answers it."""
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    layer, _ = _layer(app)
    _poll(client, order_id)
    assert _ask(layer, client, order_id)[0] == "200 OK"
    return order_id, layer


def test_a_repeat_poll_is_answered_by_the_fast_path_with_the_routes_bytes(app, client, setup):
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    layer, inner = _layer(app)
    assert _ask(layer, client, order_id)[0].startswith("599")  # nothing kept yet
    slow = _poll(client, order_id)
    assert slow.status_code == 200 and 'data-status="pending"' in slow.get_data(as_text=True)
    status, headers, body = _ask(layer, client, order_id)
    assert status == "200 OK" and inner.calls == 1
    assert body == slow.get_data()
    expected = {k: v for k, v in slow.headers.items() if k not in ("Set-Cookie", "Vary")}
    assert {k: v for k, v in headers.items() if k != "Vary"} == expected
    assert "HX-Request" in headers["Vary"]
    # The app's own stack (as gunicorn runs it) answers the same.
    assert _poll(client, order_id).get_data() == slow.get_data()


def test_a_changed_order_goes_to_the_route_which_keeps_the_new_fragment(app, client, setup):
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    layer, inner = _layer(app)
    _poll(client, order_id)
    assert _ask(layer, client, order_id)[0] == "200 OK"  # now also copied in the process
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        order.status = "processing"
        db.session.add(OrderEvent(order_id=order.id, from_status="pending",
                                  to_status="processing", message="picked up"))
        db.session.commit()
    assert _ask(layer, client, order_id)[0].startswith("599")
    fresh = _poll(client, order_id)
    assert 'data-status="processing"' in fresh.get_data(as_text=True)
    status, _, body = _ask(layer, client, order_id)
    assert status == "200 OK" and body == fresh.get_data()
    assert inner.calls == 1
    with app.app_context():  # an alert on the order changes the fragment too
        db.session.add(CertificateAlert(type="test", request_key="k", message="m",
                                        order_id=uuid.UUID(order_id)))
        db.session.commit()
    assert _ask(layer, client, order_id)[0].startswith("599")


def test_a_renamed_provider_reaches_the_next_poll(app, client, setup):
    """The provider's name is shown and can change while the order is open: it is part
    of the fingerprint, so a kept copy with the old name is not served."""
    order_id, layer = _answered_by_fast_path(app, client, setup)
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        old_name, order.provider.name = order.provider.name, "Renamed PKI"
        db.session.commit()
    try:
        assert _ask(layer, client, order_id)[0].startswith("599")
        assert "Renamed PKI" in _poll(client, order_id).get_data(as_text=True)
        status, _, body = _ask(layer, client, order_id)
        assert status == "200 OK" and b"Renamed PKI" in body
    finally:
        with app.app_context():
            db.session.get(Order, uuid.UUID(order_id)).provider.name = old_name
            db.session.commit()


def test_a_finished_order_is_left_to_the_route_and_its_etag(app, client, setup, jobs):
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    layer, _ = _layer(app)
    _poll(client, order_id)
    jobs()
    assert _ask(layer, client, order_id)[0].startswith("599")
    assert 'data-status="complete"' in _poll(client, order_id).get_data(as_text=True)


def test_another_session_never_gets_a_kept_fragment(app, client, setup):
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    _poll(client, order_id)
    layer, _ = _layer(app)
    other = app.test_client()
    login(other, "u2@example.com")
    assert _ask(layer, other, order_id)[0].startswith("599")
    assert _poll(other, order_id).status_code == 404
    same_user_elsewhere = app.test_client()
    login(same_user_elsewhere, "u1@example.com")
    assert _ask(layer, same_user_elsewhere, order_id)[0].startswith("599")


def test_an_ended_or_unusable_session_goes_to_the_route(app, client, setup):
    order_id, layer = _answered_by_fast_path(app, client, setup)
    with app.app_context():  # due for its once-a-minute touch: the route must see it
        db.session.execute(update(UserSession).values(
            last_seen_at=utcnow() - timedelta(seconds=61)))
        db.session.commit()
    assert _ask(layer, client, order_id)[0].startswith("599")
    _poll(client, order_id)  # the route touches it and keeps the fragment again
    assert _ask(layer, client, order_id)[0] == "200 OK"
    for change in ({"must_change_password": True}, {"enabled": False}):
        with app.app_context():
            db.session.execute(update(User).where(User.email == "u1@example.com")
                               .values(**change))
            db.session.commit()
        assert _ask(layer, client, order_id)[0].startswith("599"), change
        with app.app_context():
            db.session.execute(update(User).where(User.email == "u1@example.com")
                               .values(must_change_password=False, enabled=True))
            db.session.commit()
    assert _ask(layer, client, order_id)[0] == "200 OK"
    post(client, "/logout")
    with app.app_context():
        assert db.session.scalar(select(UserSession.ended_at)) is not None
    assert _ask(layer, client, order_id)[0].startswith("599")


def test_a_due_touch_goes_to_the_route_once_per_process_not_with_every_tab(
        app, client, setup, monkeypatch):
    """2,000 tabs of one session must not all fall to the slow path the moment its touch
    is due: the first poll goes (the route writes the touch), the others are answered
    here meanwhile; after the hand-off window the next poll goes again."""
    from app.web import status_fast_path

    order_id, layer = _answered_by_fast_path(app, client, setup)
    other_process, _ = _layer(app)
    with app.app_context():
        db.session.execute(update(UserSession).values(
            last_seen_at=utcnow() - timedelta(seconds=61)))
        db.session.commit()
    assert _ask(layer, client, order_id)[0].startswith("599")    # handed to the route
    for _ in range(3):                                            # the other tabs meanwhile
        assert _ask(layer, client, order_id)[0] == "200 OK"
    other_process.copies = layer.copies
    assert _ask(other_process, client, order_id)[0].startswith("599")  # its own hand-off
    assert _ask(other_process, client, order_id)[0] == "200 OK"
    monkeypatch.setattr(status_fast_path, "TOUCH_HANDOFF_SECONDS", 0.0)
    assert _ask(layer, client, order_id)[0].startswith("599")    # not seen touched: again
    _poll(client, order_id)   # the route touches it (the app's own layer hands it over)
    with app.app_context():
        last_seen = db.session.scalar(select(func.max(UserSession.last_seen_at)))
    assert utcnow() - last_seen < timedelta(seconds=5)
    assert _ask(layer, client, order_id)[0] == "200 OK"           # no longer due


def test_what_the_layer_does_not_recognise_goes_to_the_route(app, client, setup):
    order_id, layer = _answered_by_fast_path(app, client, setup)
    assert _ask(layer, client, order_id, headers={"HX-Request": "false"})[0].startswith("599")
    assert _ask(layer, client, order_id,
                headers={"HX-History-Restore-Request": "true"})[0].startswith("599")
    assert _ask(layer, client, order_id, query="x=1")[0].startswith("599")
    assert _ask(layer, client, order_id.upper())[0].startswith("599")
    forged = app.test_client()
    forged.set_cookie("session", client.get_cookie("session").value[:-2] + "xx")
    assert _ask(layer, forged, order_id)[0].startswith("599")
    assert _ask(layer, app.test_client(), order_id)[0].startswith("599")  # no cookie


def test_a_verified_cookie_is_remembered_until_it_is_too_old(app, client, setup):
    order_id, layer = _answered_by_fast_path(app, client, setup)
    cookie = client.get_cookie("session").value
    token, signed_at = layer._tokens[cookie]
    assert _ask(layer, client, order_id)[0] == "200 OK"       # from the remembered check
    layer._tokens[cookie] = (token, signed_at - layer.cookie_max_age - 1)
    assert _ask(layer, client, order_id)[0].startswith("599")  # past its age: the route
    forged = app.test_client()
    forged.set_cookie("session", cookie[:-2] + "xx")           # never remembered
    assert _ask(layer, forged, order_id)[0].startswith("599")
    assert cookie[:-2] + "xx" not in layer._tokens


def test_without_redis_the_route_answers(app, client, setup):
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    _poll(client, order_id)
    layer, _ = _layer(app)
    layer.copies.redis_url = "redis://127.0.0.1:1/0"
    assert _ask(layer, client, order_id)[0].startswith("599")


def test_a_kept_fragment_is_tagged_and_expires(app, client, setup):
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    _poll(client, order_id)
    with app.app_context():
        session_id = db.session.scalar(select(UserSession.id))
        redis = status_fragments.client(app.config["REDIS_URL"])
        key = status_fragments.key(uuid.UUID(order_id), session_id)
        found = status_fragments.kept(app.config["REDIS_URL"], uuid.UUID(order_id), session_id)
        assert found.fingerprint.startswith("pending|")
        assert 0 < redis.ttl(key) <= status_fragments.FRAGMENT_TTL_SECONDS
        assert 0 < found.expires - time.time() <= status_fragments.FRAGMENT_TTL_SECONDS


def test_copies_kept_together_do_not_expire_together(app):
    """Every tab's copy kept in the same second (a busy minute, or all of them after Redis
    restarted) must not expire in the same second, or every tab falls to the slow path
    at once: each copy lives a random part of the TTL, never less than its minimum."""
    url = app.config["REDIS_URL"]
    low = status_fragments.FRAGMENT_TTL_SECONDS * status_fragments.FRAGMENT_TTL_MIN_SHARE
    order_id = uuid.uuid4()
    lives = []
    for session_id in range(1, 41):
        started = time.time()
        status_fragments.keep(url, order_id, session_id, "pending|x", b"<div></div>")
        lives.append(status_fragments.kept(url, order_id, session_id).expires - started)
        status_fragments.client(url).delete(status_fragments.key(order_id, session_id))
    assert all(low - 1 <= life <= status_fragments.FRAGMENT_TTL_SECONDS for life in lives)
    assert max(lives) - min(lives) > 5


def test_an_expired_copy_is_not_served_even_by_the_process_that_holds_it(app, client, setup):
    order_id, layer = _answered_by_fast_path(app, client, setup)
    with app.app_context():
        session_id = db.session.scalar(select(UserSession.id))
    slot = (uuid.UUID(order_id), session_id)
    copy = layer.copies._copies[slot]
    layer.copies._copies[slot] = status_fragments.Kept(copy.fingerprint, time.time() - 1,
                                                       copy.body)
    with app.app_context():  # and Redis holds only an expired one as well
        redis = status_fragments.client(app.config["REDIS_URL"])
        redis.set(status_fragments.key(*slot),
                  b"%s\n%.3f\n%s" % (copy.fingerprint.encode(), time.time() - 1, copy.body))
    assert _ask(layer, client, order_id)[0].startswith("599")


def test_without_the_database_the_route_answers(app, client, setup):
    order_id = _submit(app, "u1@example.com", issuer=setup)
    login(client, "u1@example.com")
    _poll(client, order_id)
    layer, _ = _layer(app)
    assert _ask(layer, client, order_id)[0] == "200 OK"
    layer.polls = status_fragments.PollReader(
        create_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
                      connect_args={"connect_timeout": 1}))
    assert _ask(layer, client, order_id)[0].startswith("599")
