"""Admin → Users: create with a one-time password, change role, assign domains, disable."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, User
from app.services import domains as domain_service
from tests.conftest import login, make_user, post


def _user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(User.id)))


def _domain_id(app, name: str) -> int:
    with app.app_context():
        return domain_service.add_domain(name).id


def test_create_shows_a_one_time_password_that_works_once(app, admin_client) -> None:
    domain_id = _domain_id(app, "example.com")
    response = post(admin_client, "/admin/users/new", {
        "email": "Alice@Example.com", "name": "Alice", "role": "user", "domains": [domain_id]})
    assert response.status_code == 200
    password = re.search(r'id="one-time-password">([^<]+)<', response.get_data(as_text=True))
    assert password
    user = _user(app, "alice@example.com")
    assert user and user.role == "user" and user.must_change_password
    with app.app_context():
        assert [d.name for d in db.session.get(User, user.id).domains] == ["example.com"]
        assert "alice@example.com" not in str(db.session.get(User, user.id).password_hash)
        event = db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "user.create", AuditEvent.resource_id == str(user.id)))
        assert event.details["role"] == "user" and password.group(1) not in str(event.details)
    other = app.test_client()
    login(other, "alice@example.com", password.group(1))
    assert other.get("/").headers["Location"] == "/account/password"


@pytest.mark.parametrize(("form", "message"), [
    ({"email": "not-an-email", "role": "user"}, "Not a valid e-mail address"),
    ({"email": "", "role": "user"}, "This field is required"),
    ({"email": "x@example.com", "role": "wizard"}, "Not a valid choice"),
    ({"email": "x@example.com", "role": "user", "domains": ["999"]}, "not a valid choice"),
    ({"email": "admin@example.com", "role": "user"}, "already exists"),
])
def test_bad_user_input_gets_a_message_and_writes_nothing(app, admin_client, form: dict,
                                                          message: str) -> None:
    before = _count(app)
    response = post(admin_client, "/admin/users/new", form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _count(app) == before


def test_change_role_assign_domains_and_disable(app, admin_client) -> None:
    domain_id = _domain_id(app, "example.com")
    user_id = make_user(app, "bob@example.com", role="user")
    response = post(admin_client, f"/admin/users/{user_id}", {
        "role": "pki_admin", "domains": [domain_id], "enabled": ""})
    assert response.status_code == 302
    bob = _user(app, "bob@example.com")
    assert bob.role == "pki_admin" and bob.enabled is False
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
        assert event.details["changes"]["role"] == {"from": "user", "to": "pki_admin"}
        assert event.details["changes"]["enabled"] == {"from": True, "to": False}


def test_admin_cannot_demote_or_disable_themself(app, admin_client) -> None:
    admin = _user(app, "admin@example.com")
    response = post(admin_client, f"/admin/users/{admin.id}", {"role": "user", "enabled": "y"})
    assert response.status_code == 422
    assert "your own account" in response.get_data(as_text=True)
    assert _user(app, "admin@example.com").role == "super_admin"


def test_reset_password_issues_a_new_one_time_password(app, admin_client) -> None:
    user_id = make_user(app, "carol@example.com", role="user")
    response = post(admin_client, f"/admin/users/{user_id}/reset-password")
    assert response.status_code == 200
    assert re.search(r'id="one-time-password">[^<]+<', response.get_data(as_text=True))
    assert _user(app, "carol@example.com").must_change_password


def test_unknown_user_is_404(admin_client) -> None:
    assert admin_client.get("/admin/users/4242").status_code == 404


def test_list_shows_users(app, admin_client) -> None:
    make_user(app, "dave@example.com", role="policy_admin")
    body = admin_client.get("/admin/users/").get_data(as_text=True)
    assert "dave@example.com" in body and "Policy admin" in body


def test_one_time_password_pages_are_not_stored(app, admin_client) -> None:
    created = post(admin_client, "/admin/users/new", {"email": "fresh@example.com",
                                                      "role": "user"})
    assert created.status_code == 200 and "one-time-password" in created.get_data(as_text=True)
    assert created.headers["Cache-Control"] == "no-store"
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == "fresh@example.com"))
    reset = post(admin_client, f"/admin/users/{user_id}/reset-password")
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
