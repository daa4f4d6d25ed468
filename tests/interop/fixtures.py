"""Session fixtures for the interop tests (registered by ``tests/conftest.py``): pebble
and its fake DNS, a second pebble validating dns-01 against a real bind9, and helpers
to create providers for them. Each program starts on first use and stops at the end."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.interop.servers import Bind9, ChallTestSrv, Pebble


@pytest.fixture(scope="session")
def challtestsrv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChallTestSrv]:
    server = ChallTestSrv(tmp_path_factory.mktemp("challtestsrv"))
    yield server
    server.stop()


def _port(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory, challtestsrv: ChallTestSrv,
           live_server: str) -> Iterator[Pebble]:
    """EAB required; http-01 validated for real against the live test server (every
    name resolves to 127.0.0.1 through challtestsrv; ``httpPort`` is the server's)."""
    server = Pebble(tmp_path_factory.mktemp("pebble"), f"127.0.0.1:{challtestsrv.dns_port}",
                    _port(live_server)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def bind9(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind9]:
    server = Bind9(tmp_path_factory.mktemp("bind9"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pebble_dns(tmp_path_factory: pytest.TempPathFactory, bind9: Bind9,
               live_server: str) -> Iterator[Pebble]:
    """A second pebble whose resolver is the bind9 server: dns-01 is validated by
    looking up the TXT records the platform added there."""
    server = Pebble(tmp_path_factory.mktemp("pebble-dns"), bind9.server,
                    _port(live_server)).start()
    yield server
    server.stop()


@pytest.fixture
def pebble_nonce(tmp_path: Path, challtestsrv: ChallTestSrv,
                 live_server: str) -> Iterator[Pebble]:
    """Pebble rejecting 30 % of good nonces (PEBBLE_WFE_NONCEREJECT=30): the acme
    library's single retry fails often at that rate; the platform's own retries must not."""
    server = Pebble(tmp_path / "pebble-nonce", f"127.0.0.1:{challtestsrv.dns_port}",
                    _port(live_server), nonce_reject=30).start()
    yield server
    server.stop()


@dataclass(frozen=True)
class AcmeSetup:
    provider_id: str
    pebble: Pebble


def create_acme_provider(app: Flask, pebble: Pebble, *, name: str = "Pebble",
                         challenge: str = "http-01", bind9: Bind9 | None = None,
                         eab: bool = True, eab_hmac_key: str | None = None) -> str:
    """An ACME provider for ``pebble`` created through the service (secrets sealed)."""
    from app.extensions import db
    from app.services import providers

    config = {"directory_url": pebble.directory_url, "account_email": "pki@example.test",
              "challenge": challenge, "ca_bundle": pebble.tls.ca_pem if pebble.tls else None,
              "eab_kid": pebble.eab_kid if eab else None}
    secrets = {"eab_hmac_key": (eab_hmac_key or pebble.eab_hmac_key) if eab else ""}
    if challenge == "dns-01":
        assert bind9 is not None
        config |= {"dns_server": bind9.server, "dns_zone": bind9.zone,
                   "tsig_name": bind9.tsig_name, "tsig_algorithm": "hmac-sha256"}
        secrets["tsig_secret"] = bind9.tsig_secret
    with app.app_context():
        provider_id = str(providers.create_provider("acme", name, config, secrets).id)
        db.session.remove()
    return provider_id
