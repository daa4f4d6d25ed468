"""Login, logout, disabled accounts, throttling, one-time passwords."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent
from tests.conftest import TEST_PASSWORD, csrf_token, login, make_user, post


def _login(client, email: str, password: str):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": token})


def _audit(app, action: str, outcome: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == action, AuditEvent.outcome == outcome))


def test_anonymous_is_sent_to_login(client) -> None:
    response = client.get("/admin/domains/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_login_success_is_audited_and_opens_home(app, client) -> None:
    make_user(app)
    login(client)
    assert "Welcome" in client.get("/").get_data(as_text=True)
    assert _audit(app, "auth.login", "success") == 1


def test_wrong_password_is_refused_and_audited(app, client) -> None:
    make_user(app)
    response = _login(client, "admin@example.com", "not the password")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert _audit(app, "auth.login", "failure") == 1


def test_unknown_email_gets_the_same_message(app, client) -> None:
    response = _login(client, "nobody@example.com", "whatever")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)


def test_disabled_user_cannot_log_in(app, client) -> None:
    make_user(app, "off@example.com", role="user", enabled=False)
    response = _login(client, "off@example.com", TEST_PASSWORD)
    assert response.status_code == 401
    assert "disabled" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_disabling_ends_an_existing_session(app, client) -> None:
    user_id = make_user(app, "soon-off@example.com", role="user")
    login(client, "soon-off@example.com")
    assert client.get("/").status_code == 200
    with app.app_context():
        from app.models import User
        db.session.get(User, user_id).enabled = False
        db.session.commit()
    assert client.get("/").status_code == 302


def test_login_is_throttled_after_repeated_failures(app, client) -> None:
    make_user(app)
    for _ in range(5):
        assert _login(client, "admin@example.com", "bad password!").status_code == 401
    response = _login(client, "admin@example.com", TEST_PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.get_data(as_text=True)
    assert 1 <= int(response.headers["Retry-After"]) <= 5
    assert client.get("/").status_code == 302


def test_success_resets_the_failure_count(app, client) -> None:
    make_user(app)
    for _ in range(4):
        _login(client, "admin@example.com", "bad password!")
    login(client)
    post(client, "/logout")
    for _ in range(4):
        _login(client, "admin@example.com", "bad password!")
    assert _login(client, "admin@example.com", TEST_PASSWORD).status_code == 302


def test_empty_form_is_refused_with_422(client) -> None:
    token = csrf_token(client, "/login")
    response = client.post("/login", data={"email": "", "password": "", "csrf_token": token})
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)


def test_next_parameter_cannot_redirect_off_site(app, client) -> None:
    make_user(app)
    token = csrf_token(client, "/login")
    response = client.post("/login?next=https://evil.example/", data={
        "email": "admin@example.com", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/"


def test_next_parameter_keeps_a_local_path(app, client) -> None:
    make_user(app)
    token = csrf_token(client, "/login")
    response = client.post("/login?next=/admin/domains/", data={
        "email": "admin@example.com", "password": TEST_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/admin/domains/"


def test_logout_ends_the_session(admin_client) -> None:
    response = post(admin_client, "/logout")
    assert response.status_code == 302
    assert admin_client.get("/").status_code == 302


def test_one_time_password_forces_a_change(app, client) -> None:
    from app.services import users
    with app.app_context():
        _, one_time = users.create_user("new@example.com", role="user")
    login(client, "new@example.com", one_time)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"
    short = post(client, "/account/password", {"current_password": one_time,
                                                "new_password": "short", "confirm": "short"})
    assert short.status_code == 422
    assert "at least 12 characters" in short.get_data(as_text=True)
    new = "a much longer passphrase"
    done = post(client, "/account/password", {"current_password": one_time,
                                               "new_password": new, "confirm": new})
    assert done.status_code == 302
    assert client.get("/").status_code == 200
    post(client, "/logout")
    login(client, "new@example.com", new)
