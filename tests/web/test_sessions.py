"""Server-side sessions: a copied cookie stops working when its session ends (logout, a
password change or reset, a role change, disabling), after 8 hours idle or 24 hours in
all, and Account → Sessions lists the live ones and ends any of them."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEvent, UserSession
from app.models.base import utcnow
from tests.conftest import TEST_PASSWORD, csrf_token, login, make_user, post

EMAIL = "alice@example.com"


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _with_cookie(app: Flask, value: str) -> FlaskClient:
    """Another browser presenting a copy of a session cookie."""
    other = app.test_client()
    other.set_cookie("session", value)
    return other


def _logged_in(client: FlaskClient) -> bool:
    return client.get("/").status_code == 200


def _sessions(app: Flask) -> list[UserSession]:
    with app.app_context():
        rows = list(db.session.scalars(select(UserSession).order_by(UserSession.id)))
        db.session.expunge_all()
        return rows


@pytest.fixture
def alice(app: Flask, client: FlaskClient) -> FlaskClient:
    make_user(app, EMAIL, role="user")
    login(client, EMAIL)
    return client


def test_an_old_cookie_after_logout_gets_the_login_page(app, alice) -> None:
    copied = _cookie(alice)
    assert _logged_in(_with_cookie(app, copied))
    post(alice, "/logout")
    replay = _with_cookie(app, copied).get("/certificates/")
    assert replay.status_code == 302 and "/login" in replay.headers["Location"]
    [row] = _sessions(app)
    assert row.ended_at is not None and row.end_reason == "logout"


def test_the_cookie_holds_a_random_token_and_only_its_hash_is_stored(app, alice) -> None:
    from flask.sessions import SecureCookieSessionInterface

    data = SecureCookieSessionInterface().get_signing_serializer(app).loads(_cookie(alice))
    token = data["_user_id"]
    assert len(token) >= 40 and not token.isdigit()
    [row] = _sessions(app)
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_the_sessions_page_ends_another_session(app, alice) -> None:
    laptop = app.test_client()
    laptop.environ_base["HTTP_USER_AGENT"] = "Laptop browser"
    login(laptop, EMAIL)
    page = alice.get("/account/sessions").get_data(as_text=True)
    assert page.count('data-session="') == 2 and "Laptop browser" in page
    assert "this browser" in page
    laptop_row = next(r for r in _sessions(app) if r.user_agent == "Laptop browser")

    ended = post(alice, f"/account/sessions/{laptop_row.id}/end")
    assert ended.status_code == 302
    assert not _logged_in(laptop) and _logged_in(alice)
    assert alice.get("/account/sessions").get_data(as_text=True).count('data-session="') == 1
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "auth.session_end")) is not None


def test_ending_this_browsers_session_logs_out(app, alice) -> None:
    [row] = _sessions(app)
    response = post(alice, f"/account/sessions/{row.id}/end", follow_redirects=True)
    assert "You are logged out" in response.get_data(as_text=True)
    assert not _logged_in(alice)


def test_another_users_session_cannot_be_ended(app, alice) -> None:
    make_user(app, "bob@example.com", role="user")
    bob = app.test_client()
    login(bob, "bob@example.com")
    bob_row = next(r for r in _sessions(app) if r.user_id != _sessions(app)[0].user_id)
    assert post(alice, f"/account/sessions/{bob_row.id}/end").status_code == 404
    assert post(alice, "/account/sessions/99999999999999999999/end").status_code == 404
    assert _logged_in(bob)


def test_a_password_change_ends_every_session_but_keeps_this_browser_in(app, alice) -> None:
    other = app.test_client()
    login(other, EMAIL)
    before = _cookie(alice)
    response = post(alice, "/account/password", {
        "current_password": TEST_PASSWORD, "new_password": "a brand new passphrase",
        "confirm": "a brand new passphrase"})
    assert response.status_code == 302
    assert _logged_in(alice)                                # a fresh session
    assert not _logged_in(other)
    assert not _logged_in(_with_cookie(app, before))        # the old cookie of this browser
    reasons = sorted(r.end_reason or "live" for r in _sessions(app))
    assert reasons == ["live", "password_changed", "password_changed"]


def test_an_admin_reset_role_change_and_disable_end_the_users_sessions(app, client) -> None:
    admin_id = make_user(app)
    user_id = make_user(app, EMAIL, role="user")
    login(client, "admin@example.com")
    alice = app.test_client()

    def edit(**changes):
        form = {"role": "user", "enabled": "y", **changes}
        return post(client, f"/admin/users/{user_id}", form)

    login(alice, EMAIL)
    assert edit().status_code == 302 and _logged_in(alice)   # nothing changed: stays in
    assert edit(role="pki_admin").status_code == 302
    assert not _logged_in(alice)

    login(alice, EMAIL)
    form = {"role": "pki_admin"}  # unticked "enabled"
    assert post(client, f"/admin/users/{user_id}", form).status_code == 302
    assert not _logged_in(alice)

    edit(role="pki_admin")  # enable again
    login(alice, EMAIL)
    assert post(client, f"/admin/users/{user_id}/reset-password").status_code == 200
    assert not _logged_in(alice)
    assert _logged_in(client)  # the admin's own session is untouched
    assert {r.end_reason for r in _sessions(app) if r.user_id == user_id} >= {
        "role_changed", "disabled", "password_reset"}
    assert all(r.ended_at is None for r in _sessions(app) if r.user_id == admin_id)


def _age(app: Flask, *, created: timedelta, seen: timedelta) -> None:
    now = utcnow()
    with app.app_context():
        db.session.execute(update(UserSession).values(created_at=now - created,
                                                       last_seen_at=now - seen))
        db.session.commit()


def test_a_session_ends_after_eight_hours_idle(app, alice) -> None:
    _age(app, created=timedelta(hours=7, minutes=59), seen=timedelta(hours=7, minutes=59))
    assert _logged_in(alice)  # and the visit counts as activity
    _age(app, created=timedelta(hours=9), seen=timedelta(hours=8, seconds=1))
    assert not _logged_in(alice)
    assert _sessions(app)[0].end_reason == "idle"


def test_a_session_ends_after_twenty_four_hours_however_active(app, alice) -> None:
    _age(app, created=timedelta(hours=23, minutes=59), seen=timedelta(minutes=1))
    assert _logged_in(alice)
    _age(app, created=timedelta(hours=24, seconds=1), seen=timedelta(seconds=0))
    assert not _logged_in(alice)
    assert _sessions(app)[0].end_reason == "expired"


def test_activity_is_recorded_at_most_once_a_minute(app, alice) -> None:
    _age(app, created=timedelta(hours=1), seen=timedelta(minutes=5))
    alice.get("/")
    first = _sessions(app)[0].last_seen_at
    assert utcnow() - first < timedelta(seconds=30)
    alice.get("/")
    assert _sessions(app)[0].last_seen_at == first


def test_login_replaces_a_planted_session_id(app, client) -> None:
    """Session fixation: whatever cookie the browser had, login issues a new token."""
    make_user(app, EMAIL, role="user")
    csrf_token(client)
    planted = _cookie(client)
    login(client, EMAIL)
    assert _cookie(client) != planted
    assert not _logged_in(_with_cookie(app, planted))


def test_production_keeps_the_session_cookie_secure(monkeypatch, tmp_path) -> None:
    from app.config import default_settings

    monkeypatch.setenv("APP_ENV", "production")
    assert default_settings(str(tmp_path))["SESSION_COOKIE_SECURE"] is True
