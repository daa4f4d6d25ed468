"""Scans of Debian's nginx: what a real web server serves, by SNI, and its plain port."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, DiscoveryScan
from app.services import discovery_scan
from tests.discovery.certs import pem
from tests.discovery.nginx import DEFAULT, VHOSTS

pytestmark = pytest.mark.interop


def test_scanning_nginx_finds_each_name_its_chain_and_the_plain_port(ctx, discovery_nginx,
                                                                      scan_pki):
    targets = [discovery_nginx.endpoint(n) for n in (*VHOSTS, "unknown.nginx.test")] + [
        f"127.0.0.1:{discovery_nginx.tls_port}", f"127.0.0.1:{discovery_nginx.http_port}"]
    scan = discovery_scan.create_scan(targets, actor=None)
    assert discovery_scan.run_scan(str(scan.id)) == "complete"
    db.session.expire_all()
    results = db.session.get(DiscoveryScan, scan.id).results

    served = {r.server_name or r.endpoint: (r.status, r.error_code, r.certificate_id)
              for r in results}
    plain = served.pop(f"127.0.0.1:{discovery_nginx.http_port}")
    assert plain[:2] == ("failed", "not_tls")
    assert {k: v[0] for k, v in served.items()} == {
        VHOSTS[0]: "ok", VHOSTS[1]: "ok", "unknown.nginx.test": "ok",
        f"127.0.0.1:{discovery_nginx.tls_port}": "ok"}
    names = {k: db.session.get(Certificate, v[2]).common_name for k, v in served.items()}
    assert names == {VHOSTS[0]: VHOSTS[0], VHOSTS[1]: VHOSTS[1],
                     "unknown.nginx.test": DEFAULT,            # nginx's default server
                     f"127.0.0.1:{discovery_nginx.tls_port}": DEFAULT}   # no SNI sent

    chain = db.session.get(Certificate, served[VHOSTS[0]][2])
    assert chain.chain_pem.encode() == pem(scan_pki.inter)
    expired = db.session.get(Certificate, served[VHOSTS[1]][2])
    assert expired.status == "expired"
    self_signed = db.session.get(Certificate, served[DEFAULT if DEFAULT in served
                                                       else "unknown.nginx.test"][2])
    assert self_signed.chain_pem == "" and self_signed.issuer_dn == f"CN={DEFAULT}"
    # The default certificate was seen on two endpoints (no SNI, an unknown name): one row.
    assert db.session.scalar(select(Certificate).where(
        Certificate.common_name == DEFAULT)) is self_signed
    assert sorted(loc.server_name for loc in self_signed.locations) == ["",
                                                                        "unknown.nginx.test"]
