"""Step 2 of the wizard with providers: active providers are offered, the Local PKI with
its issuing CA; an ACME provider is offered only the fields it honours (names and key)
and the page says so; the review marks the CA's fields; the order references the
provider."""
from __future__ import annotations

import re
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Order
from app.services import providers
from tests.builders import LOCAL_PKI_ID, add_domain, issuing_ca
from tests.conftest import login, make_user
from tests.web.test_wizard import _start, _step


@pytest.fixture
def setup(app: Flask, client: FlaskClient, jobs, worker_key: None) -> tuple[str, str]:
    add_domain(app, "example.com")
    make_user(app, "user@example.com", role="user", domains=("example.com",))
    issuer = issuing_ca(app, jobs)
    with app.app_context():
        acme = str(providers.create_provider("acme", "Public ACME", {
            "directory_url": "https://127.0.0.1:14000/dir", "challenge": "http-01"}, {}).id)
        providers.create_provider("acme", "Paused ACME", {
            "directory_url": "https://127.0.0.1:14000/dir", "challenge": "http-01"}, {},
            active=False)
        db.session.remove()
    login(client, "user@example.com")
    return issuer, acme


def _to_crypto(client: FlaskClient, draft: str, names: list[str] | None = None) -> None:
    names = names or ["www.example.com", "api.example.com"]
    assert _step(client, draft, "names", {"common_name": names[0],
                                          "sans": names[1:]}).status_code == 303
    assert _step(client, draft, "subject", {"organization": "Acme"}).status_code == 303


def _options(html: str, name: str) -> list[str]:
    select_ = re.search(rf'<select id="f-{name}" name="{name}".*?</select>', html, re.S)
    assert select_, html[-3000:]
    return re.findall(r'<option value="([^"]+)"', select_.group(0))


def test_step_two_offers_active_providers_and_the_local_pki_issuer(
        client: FlaskClient, setup: tuple[str, str]) -> None:
    issuer, acme = setup
    draft = _start(client)
    _to_crypto(client, draft)
    html = client.get(f"/request/{draft}/crypto").get_data(as_text=True)
    assert _options(html, "provider_id") == [str(LOCAL_PKI_ID), acme]   # not the paused one
    assert _options(html, "issuer_id") == [issuer]
    assert 'name="digest"' in html and 'name="validity_days"' in html
    assert 'name="key_usage"' in html and 'id="provider-note"' not in html


def test_choosing_acme_offers_only_what_it_honours(app: Flask, client: FlaskClient,
                                                   setup: tuple[str, str]) -> None:
    _, acme = setup
    draft = _start(client)
    _to_crypto(client, draft)
    refreshed = _step(client, draft, "crypto", {"provider_id": acme, "algorithm": "ec-256"},
                      nav="refresh", headers={"HX-Request": "true"})
    html = refreshed.get_data(as_text=True)
    assert refreshed.status_code == 200
    assert 'id="provider-note"' in html and "takes the names and the key only" in html
    assert "cannot issue wildcard names" in html
    for field in ('name="issuer_id"', 'name="digest"', 'name="validity_days"',
                  'name="key_usage"', 'name="extended_key_usage"'):
        assert field not in html, field
    assert 'name="algorithm"' in html
    assert _step(client, draft, "crypto", {"provider_id": acme, "algorithm": "ec-384"}
                 ).status_code == 303
    review = client.get(f"/request/{draft}/review").get_data(as_text=True)
    for field in ("organization", "digest", "validity_days", "key_usage",
                  "extended_key_usage"):
        assert re.search(rf'data-field="{field}"><span class="muted" data-set-by-ca>set by '
                         r'the CA', review), field
    assert re.search(r'data-field="provider_id">Public ACME', review)
    assert 'id="blocked-note"' not in review
    response = _step(client, draft, "review", {}, nav="submit")
    assert response.status_code == 303
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert str(order.provider_id) == acme and order.type == "acme"
        stored = order.request
    assert stored["provider_id"] == acme and stored["issuer_id"] is None
    assert stored["algorithm"] == "ec-384" and stored["organization"] is None
    assert (stored["digest"], stored["validity_days"], stored["key_usage"]) == \
        (None, None, [])


def test_switching_back_to_the_local_pki_restores_its_fields(
        client: FlaskClient, setup: tuple[str, str]) -> None:
    issuer, acme = setup
    draft = _start(client)
    _to_crypto(client, draft)
    _step(client, draft, "crypto", {"provider_id": acme}, nav="refresh")
    html = _step(client, draft, "crypto", {"provider_id": str(LOCAL_PKI_ID)},
                 nav="refresh").get_data(as_text=True)
    assert _options(html, "issuer_id") == [issuer] and 'name="digest"' in html


def test_wildcards_with_an_http01_provider_are_refused_on_the_step(
        client: FlaskClient, setup: tuple[str, str]) -> None:
    _, acme = setup
    draft = _start(client)
    _to_crypto(client, draft, ["*.example.com"])
    response = _step(client, draft, "crypto", {"provider_id": acme, "algorithm": "ec-256"})
    assert response.status_code == 422
    assert 'data-code="provider.wildcard_needs_dns01"' in response.get_data(as_text=True)


@pytest.mark.parametrize("chosen", ["inactive", "unknown"])
def test_an_unavailable_provider_is_refused(app: Flask, client: FlaskClient,
                                            setup: tuple[str, str], chosen: str) -> None:
    with app.app_context():
        paused = str(providers.find_provider("Paused ACME").id)
    draft = _start(client)
    _to_crypto(client, draft)
    response = _step(client, draft, "crypto", {
        "provider_id": paused if chosen == "inactive" else str(uuid.uuid4()),
        "algorithm": "ec-256"})
    assert response.status_code == 422
    assert 'data-code="provider.unavailable"' in response.get_data(as_text=True)
