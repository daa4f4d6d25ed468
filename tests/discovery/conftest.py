from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.discovery import servers
from tests.discovery.certs import make_cert, new_pki, pem


@pytest.fixture(scope="session")
def scan_pki():
    return new_pki()


@pytest.fixture(scope="session")
def endpoints(scan_pki, tmp_path_factory):
    """Loopback endpoints for the whole session: a chain, an expired certificate, a
    self-signed one, a silent server, a hang-up, plain HTTP and a refused port."""
    directory = tmp_path_factory.mktemp("discovery-servers")
    scan_pki.leaf("chain.example.test")
    scan_pki.leaf("expired.example.test",
                  not_before=datetime.now(UTC) - timedelta(days=200), days=90)
    files = {name: scan_pki.write_server_files(directory, name)
             for name in ("chain.example.test", "expired.example.test")}
    self_signed, key = make_cert("self-signed.example.test", sans=("self-signed.example.test",))
    scan_pki.leaves["self-signed.example.test"] = (self_signed, key)
    files["self-signed.example.test"] = scan_pki.write_server_files(
        directory, "self-signed.example.test", chain=False)
    running = {
        "chain": servers.tls_server(*files["chain.example.test"]),
        "expired": servers.tls_server(*files["expired.example.test"]),
        "self_signed": servers.tls_server(*files["self-signed.example.test"]),
        "silent": servers.silent_server(),
        "closing": servers.closing_server(),
        "http": servers.plain_http_server(),
    }
    found = {name: server.endpoint for name, server in running.items()}
    found["refused"] = f"127.0.0.1:{servers.free_port()}"
    yield {"endpoints": found, "servers": running, "pki": scan_pki,
           "pem": {n: pem(c) for n, (c, _) in scan_pki.leaves.items()}}
    for server in running.values():
        server.stop()


@pytest.fixture(scope="session")
def discovery_nginx(scan_pki, tmp_path_factory):
    """Debian's nginx with three TLS names (a chain, an expired certificate, a self-signed
    default) on one port, and a plain-HTTP port (interop tests only)."""
    from tests.discovery.nginx import DEFAULT, VHOSTS, DiscoveryNginx

    scan_pki.leaf(VHOSTS[0])
    scan_pki.leaf(VHOSTS[1], not_before=datetime.now(UTC) - timedelta(days=120), days=30)
    scan_pki.leaves[DEFAULT] = make_cert(DEFAULT, sans=(DEFAULT,))
    server = DiscoveryNginx(tmp_path_factory.mktemp("discovery-nginx"), scan_pki)
    yield server
    server.stop()
