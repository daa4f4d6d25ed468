"""Outbound safety for the DigiCert and GlobalSign base URLs: a base URL whose host is a
private, loopback or metadata address is refused when saved (clear error, no row) unless
its network is listed in OUTBOUND_ALLOWED_NETWORKS, and again when the worker calls it
(the allowance removed after saving: nothing reaches the server)."""
from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Provider
from app.providers.base import ProviderRejectedError
from app.services import providers
from app.services.errors import ValidationFailed
from tests.conftest import TEST_ALLOWED_NETWORKS
from tests.providers.commercial_helpers import ask, provider
from tests.standins.ca import ClientCA
from tests.standins.fixtures import (
    create_digicert_provider,
    create_globalsign_provider,
    digicert_config,
    globalsign_config,
)

CLIENT = ClientCA("Outbound").client()


def _create(kind: str, server: object, base_url: str) -> Provider:
    if kind == "digicert":
        return providers.create_provider("digicert", "Private DC", digicert_config(
            server, base_url=base_url), {"api_key": "k"})  # type: ignore[arg-type]
    return providers.create_provider("globalsign", "Private GS", globalsign_config(
        server, CLIENT.cert_pem, base_url=base_url),  # type: ignore[arg-type]
        {"api_key": "k", "api_secret": "s", "mtls_key": CLIENT.key_pem})


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Provider)) or 0


@pytest.mark.parametrize("kind", ["digicert", "globalsign"])
@pytest.mark.parametrize(("url", "words"), [
    ("https://10.20.30.40/api", "a private or reserved address"),
    ("https://169.254.169.254/latest", "a cloud metadata address"),
    ("https://127.0.0.2:8443/v2", "a loopback address"),
    ("https://[fd00::1]/v2", "a private or reserved address"),
])
def test_a_private_base_url_is_refused_unless_allowed(
        app: Flask, worker_key: None, kind: str, url: str, words: str,
        monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue(kind)
    with app.app_context():
        before = _count()
        with pytest.raises(ValidationFailed) as refused:
            _create(kind, server, url)
        assert refused.value.code == "outbound.address_refused"
        assert refused.value.field == "base_url" and words in refused.value.message
        db.session.rollback()
        assert _count() == before                                 # no row written
        monkeypatch.setitem(app.config, "OUTBOUND_ALLOWED_NETWORKS",
                            [*TEST_ALLOWED_NETWORKS.split(), "10.0.0.0/8", "169.254.0.0/16",
                             "127.0.0.0/8", "fd00::/8"])
        row = _create(kind, server, url)
        assert row.config["base_url"] == url.rstrip("/")
        db.session.remove()


@pytest.mark.parametrize("kind", ["digicert", "globalsign"])
def test_plain_http_base_url_is_refused(app: Flask, worker_key: None, kind: str,
                                        request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue(kind)
    with app.app_context(), pytest.raises(ValidationFailed) as refused:
        _create(kind, server, "http://ca.example.com/v2")
    assert refused.value.code == "outbound.scheme"


@pytest.mark.parametrize("kind", ["digicert", "globalsign"])
def test_the_worker_checks_again_when_calling(app: Flask, worker_key: None, kind: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              request: pytest.FixtureRequest) -> None:
    server = request.getfixturevalue(kind)
    create = create_digicert_provider if kind == "digicert" else create_globalsign_provider
    provider_id = create(app, server)                     # loopback allowed (tests)
    monkeypatch.setitem(app.config, "OUTBOUND_ALLOWED_NETWORKS", [])
    with app.app_context():
        asked = ask("www.example.test")
        with pytest.raises(ProviderRejectedError) as refused:
            provider(provider_id).submit(asked.request, asked.csr)
        report = provider(provider_id).test_connection()
    assert refused.value.code == "outbound.address_refused"
    assert "a loopback address; outbound calls to it are refused" in str(refused.value)
    assert not report.ok and "loopback" in report.summary
    assert server.requests == []                          # nothing reached the CA
