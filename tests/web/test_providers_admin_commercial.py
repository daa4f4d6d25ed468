"""Admin → Certificate Providers for DigiCert and GlobalSign: create through the form,
edit and save unchanged, secrets write-only (the client key never echoed, even after a
refused submission), bad input refused next to its field with no row written, and the
connection test against the stand-ins."""
from __future__ import annotations

import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import Provider
from app.services.provider_runtime import run_connection_test
from app.services.worker_keys import open_sealed
from tests.conftest import login, make_user, post
from tests.standins.ca import ClientCA
from tests.standins.digicert import DigiCertStandIn
from tests.standins.globalsign import GlobalSignStandIn


@pytest.fixture
def pki_client(app: Flask, client: FlaskClient, worker_key: None) -> FlaskClient:
    make_user(app, "pki@example.com", role="pki_admin")
    login(client, "pki@example.com")
    return client


def _dc_form(server: DigiCertStandIn, **changes: str) -> dict[str, str]:
    return {"name": "DigiCert", "base_url": server.base_url,
            "organization_id": str(server.organization_id), "product": "ssl_basic",
            "api_key": server.api_key, "poll_seconds": "1", "ca_bundle": server.tls.ca_pem,
            "active": "y"} | changes


def _gs_form(server: GlobalSignStandIn, **changes: str) -> dict[str, str]:
    client = server.identity()
    return {"name": "Atlas", "base_url": server.base_url, "api_key": server.api_key,
            "api_secret": server.api_secret, "client_cert": client.cert_pem,
            "mtls_key": client.key_pem, "poll_seconds": "1", "ca_bundle": server.tls.ca_pem,
            "active": "y"} | changes


def _count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Provider)) or 0


def _row(app: Flask, provider_id: str) -> Provider:
    with app.app_context():
        row = db.session.get(Provider, uuid.UUID(provider_id))
        db.session.expunge(row)
        return row


def test_new_page_offers_each_type(pki_client: FlaskClient) -> None:
    html = pki_client.get("/admin/providers/new?type=digicert").get_data(as_text=True)
    assert "New DigiCert CertCentral provider" in html and 'name="organization_id"' in html
    html = pki_client.get("/admin/providers/new?type=globalsign").get_data(as_text=True)
    assert "New GlobalSign Atlas provider" in html and 'name="client_cert"' in html
    index = pki_client.get("/admin/providers/").get_data(as_text=True)
    assert "/admin/providers/new?type=digicert" in index


def test_digicert_create_edit_unchanged_and_test(app: Flask, pki_client: FlaskClient,
                                                 digicert: DigiCertStandIn) -> None:
    response = post(pki_client, "/admin/providers/new?type=digicert", _dc_form(digicert))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    provider_id = response.headers["Location"].rsplit("/", 1)[-1]
    row = _row(app, provider_id)
    assert row.type == "digicert" and row.config["organization_id"] == digicert.organization_id
    with app.app_context():
        assert open_sealed(row.secrets["api_key"], f"provider:{row.id}:api_key") \
            == digicert.api_key
    page = pki_client.get(f"/admin/providers/{provider_id}").get_data(as_text=True)
    assert digicert.api_key not in page and "<code>api_key</code>: set" in page
    # Save unchanged (the secret left empty keeps the stored one).
    unchanged = post(pki_client, f"/admin/providers/{provider_id}",
                     _dc_form(digicert, api_key=""), follow_redirects=True)
    assert "Nothing changed." in unchanged.get_data(as_text=True)
    edited = post(pki_client, f"/admin/providers/{provider_id}",
                  _dc_form(digicert, api_key="", product="ssl_securesite_flex"),
                  follow_redirects=True)
    assert "Saved provider" in edited.get_data(as_text=True)
    assert _row(app, provider_id).config["product"] == "ssl_securesite_flex"
    assert _row(app, provider_id).secrets["api_key"] == row.secrets["api_key"]
    with app.app_context():
        assert run_connection_test(provider_id) == "ok"


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"organization_id": "acme"}, "organization_id", "organization id is the number"),
    ({"api_key": ""}, "api_key", "needs the API key"),
    ({"base_url": "https://10.1.1.1/services/v2"}, "base_url", "private or reserved"),
    ({"product": "Basic SSL"}, "product", "product name id"),
    ({"poll_seconds": "99999"}, "poll_seconds", "check interval"),
])
def test_digicert_refusals_change_nothing(app: Flask, pki_client: FlaskClient,
                                          digicert: DigiCertStandIn, changes: dict,
                                          field: str, words: str) -> None:
    before = _count(app)
    response = post(pki_client, "/admin/providers/new?type=digicert",
                    _dc_form(digicert, **changes))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert words in html and f'id="{field}"' in html
    assert digicert.api_key not in html            # the typed secret is not echoed
    assert _count(app) == before


def test_globalsign_create_edit_unchanged_and_test(app: Flask, pki_client: FlaskClient,
                                                   globalsign: GlobalSignStandIn) -> None:
    form = _gs_form(globalsign)
    response = post(pki_client, "/admin/providers/new?type=globalsign", form)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    provider_id = response.headers["Location"].rsplit("/", 1)[-1]
    row = _row(app, provider_id)
    assert sorted(row.secrets) == ["api_key", "api_secret", "mtls_key"]
    page = pki_client.get(f"/admin/providers/{provider_id}").get_data(as_text=True)
    assert "PRIVATE KEY" not in page and globalsign.api_secret not in page
    unchanged = post(pki_client, f"/admin/providers/{provider_id}",
                     form | {"api_key": "", "api_secret": "", "mtls_key": ""},
                     follow_redirects=True)
    assert "Nothing changed." in unchanged.get_data(as_text=True)
    with app.app_context():
        assert run_connection_test(provider_id) == "ok"


def test_globalsign_key_of_another_certificate_is_refused_and_not_echoed(
        app: Flask, pki_client: FlaskClient, globalsign: GlobalSignStandIn) -> None:
    stranger = ClientCA("other").client()
    before = _count(app)
    response = post(pki_client, "/admin/providers/new?type=globalsign",
                    _gs_form(globalsign, mtls_key=stranger.key_pem))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The client key does not belong to the client certificate." in html
    assert "PRIVATE KEY" not in html
    assert _count(app) == before
