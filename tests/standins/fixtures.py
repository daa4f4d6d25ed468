"""Fixtures starting the commercial-CA stand-ins (one per session; each test starts
them in a normal state) and creating providers for them the way an admin would."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.standins.digicert import DigiCertStandIn
from tests.standins.globalsign import GlobalSignStandIn


@pytest.fixture(scope="session")
def _digicert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DigiCertStandIn]:
    server = DigiCertStandIn(tmp_path_factory.mktemp("digicert"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _globalsign_server(tmp_path_factory: pytest.TempPathFactory
                       ) -> Iterator[GlobalSignStandIn]:
    server = GlobalSignStandIn(tmp_path_factory.mktemp("globalsign"))
    yield server
    server.stop()


@pytest.fixture
def digicert(_digicert_server: DigiCertStandIn) -> DigiCertStandIn:
    _digicert_server.outage = None
    _digicert_server.observe = None
    _digicert_server.pending_polls = 2
    with _digicert_server.lock:
        _digicert_server.requests.clear()
    return _digicert_server


@pytest.fixture
def globalsign(_globalsign_server: GlobalSignStandIn) -> GlobalSignStandIn:
    _globalsign_server.outage = None
    _globalsign_server.observe = None
    _globalsign_server.pending_polls = 2
    _globalsign_server.token_uses = 1000
    with _globalsign_server.lock:
        _globalsign_server.requests.clear()
    return _globalsign_server


def digicert_config(server: DigiCertStandIn, **changes: object) -> dict[str, object]:
    return {"base_url": server.base_url, "organization_id": str(server.organization_id),
            "poll_seconds": "1",
            "product": "ssl_basic", "ca_bundle": server.tls.ca_pem} | changes


def globalsign_config(server: GlobalSignStandIn, cert_pem: str,
                      **changes: object) -> dict[str, object]:
    return {"base_url": server.base_url, "client_cert": cert_pem, "poll_seconds": "1",
            "ca_bundle": server.tls.ca_pem} | changes


def create_digicert_provider(app: Flask, server: DigiCertStandIn, *, name: str = "DigiCert",
                             api_key: str | None = None) -> str:
    from app.extensions import db
    from app.services import providers

    with app.app_context():
        provider = providers.create_provider(
            "digicert", name, digicert_config(server),
            {"api_key": api_key or server.api_key})
        provider_id = str(provider.id)
        db.session.remove()
    return provider_id


def create_globalsign_provider(app: Flask, server: GlobalSignStandIn, *,
                               name: str = "GlobalSign", api_secret: str | None = None,
                               identity: object | None = None) -> str:
    from app.extensions import db
    from app.services import providers

    client = identity or server.identity()
    with app.app_context():
        provider = providers.create_provider(
            "globalsign", name, globalsign_config(server, client.cert_pem),  # type: ignore[attr-defined]
            {"api_key": server.api_key, "api_secret": api_secret or server.api_secret,
             "mtls_key": client.key_pem})  # type: ignore[attr-defined]
        provider_id = str(provider.id)
        db.session.remove()
    return provider_id
