"""CSRF protection on forms and on htmx requests."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Domain
from tests.conftest import csrf_token


def _domains(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Domain.id)))


def test_missing_token_is_refused_and_writes_nothing(app, admin_client) -> None:
    response = admin_client.post("/admin/domains/", data={"name": "example.com"})
    assert response.status_code == 400
    assert "security token is missing or has expired" in response.get_data(as_text=True)
    assert _domains(app) == 0


def test_forged_token_is_refused_and_writes_nothing(app, admin_client) -> None:
    response = admin_client.post("/admin/domains/", data={"name": "example.com",
                                                          "csrf_token": "forged.token.value"})
    assert response.status_code == 400
    assert _domains(app) == 0


def test_token_of_another_session_is_refused(app, admin_client) -> None:
    other = app.test_client()
    foreign = csrf_token(other, "/login")
    response = admin_client.post("/admin/domains/", data={"name": "example.com",
                                                          "csrf_token": foreign})
    assert response.status_code == 400
    assert _domains(app) == 0


def test_htmx_request_with_header_token_is_accepted(app, admin_client) -> None:
    token = csrf_token(admin_client, "/")
    response = admin_client.post("/admin/domains/", data={"name": "example.com"},
                                 headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    assert _domains(app) == 1


def test_htmx_request_without_token_gets_an_error_fragment(app, admin_client) -> None:
    response = admin_client.post("/admin/domains/", data={"name": "example.com"},
                                 headers={"HX-Request": "true"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "<html" not in body and "security token" in body
    assert _domains(app) == 0


def test_every_page_carries_the_token_for_htmx(admin_client) -> None:
    html = admin_client.get("/").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
