"""Scans of real TLS servers on loopback (Python ``ssl``) and of endpoints that fail."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditEvent,
    Certificate,
    CertificateLocation,
    DiscoveryScan,
    ScanResult,
    ScanTarget,
)
from app.services import discovery_import, discovery_scan
from app.services.errors import ValidationFailed
from tests.discovery.certs import pem


def _scan(targets, **kwargs) -> DiscoveryScan:
    scan = discovery_scan.create_scan(targets, actor=None, **kwargs)
    assert discovery_scan.run_scan(str(scan.id)) == "complete"
    db.session.expire_all()
    return db.session.get(DiscoveryScan, scan.id)


def _by_endpoint(scan: DiscoveryScan) -> dict[str, ScanResult]:
    return {r.endpoint: r for r in scan.results}


def test_a_scan_records_each_served_chain_and_why_the_others_failed(ctx, endpoints):
    ep = endpoints["endpoints"]
    scan = _scan(" ".join(ep.values()))

    results = _by_endpoint(scan)
    assert scan.status == "complete" and scan.finished_at is not None
    assert {name: (results[e].status, results[e].error_code) for name, e in ep.items()} == {
        "chain": ("ok", None), "expired": ("ok", None), "self_signed": ("ok", None),
        "silent": ("failed", "timeout"), "closing": ("failed", "closed"),
        "http": ("failed", "not_tls"), "refused": ("failed", "refused")}
    assert "did not answer" in results[ep["silent"]].error_message
    assert "not with TLS" in results[ep["http"]].error_message

    chain = db.session.get(Certificate, results[ep["chain"]].certificate_id)
    assert chain.source == "discovered" and chain.common_name == "chain.example.test"
    assert chain.chain_pem.encode() == pem(endpoints["pki"].inter)
    assert results[ep["chain"]].chain_length == 2 and results[ep["chain"]].new_certificate
    assert chain.last_seen_at is not None
    [location] = chain.locations
    assert (location.host, location.port, location.address) == (
        "127.0.0.1", endpoints["servers"]["chain"].port, "127.0.0.1")

    expired = db.session.get(Certificate, results[ep["expired"]].certificate_id)
    assert expired.status == "expired"
    self_signed = db.session.get(Certificate, results[ep["self_signed"]].certificate_id)
    assert self_signed.issuer_dn == "CN=self-signed.example.test" and self_signed.chain_pem == ""
    assert db.session.scalar(select(func.count(Certificate.id))) == 3


def test_a_certificate_on_several_endpoints_is_one_row_with_several_locations(ctx, endpoints):
    port = endpoints["servers"]["chain"].port
    scan = _scan(f"127.0.0.1:{port} localhost:{port} 127.0.0.1:{port}/www.example.test")
    assert [r.status for r in scan.results] == ["ok", "ok", "ok"]
    assert db.session.scalar(select(func.count(Certificate.id))) == 1
    cert = db.session.scalar(select(Certificate))
    assert sorted((loc.host, loc.server_name) for loc in cert.locations) == [
        ("127.0.0.1", ""), ("127.0.0.1", "www.example.test"), ("localhost", "localhost")]
    first_seen = {loc.id: loc.first_seen_at for loc in cert.locations}
    _scan(f"127.0.0.1:{port}")
    db.session.expire_all()
    assert db.session.scalar(select(func.count(CertificateLocation.id))) == 3
    again = {loc.id: (loc.first_seen_at, loc.last_seen_at) for loc in cert.locations}
    assert all(again[i][0] == first_seen[i] for i in first_seen)
    assert max(last for _, last in again.values()) > max(first_seen.values())


def test_scanning_a_certificate_imported_earlier_adds_its_location_only(ctx, endpoints):
    discovery_import.import_certificates(endpoints["pem"]["chain.example.test"])
    scan = _scan(endpoints["endpoints"]["chain"])
    assert scan.results[0].new_certificate is False
    cert = db.session.scalar(select(Certificate))
    assert len(cert.locations) == 1 and cert.chain_pem   # the chain the server sent


def test_a_private_address_needs_the_admin_setting(app, ctx, endpoints):
    with pytest.raises(ValidationFailed) as caught:
        discovery_scan.create_scan("10.1.2.3:443", actor=None)
    assert caught.value.code == "discovery.target_refused"
    assert "DISCOVERY_ALLOWED_NETWORKS" in caught.value.message
    assert db.session.scalar(select(func.count(DiscoveryScan.id))) == 0
    allowed = app.config["DISCOVERY_ALLOWED_NETWORKS"]
    app.config["DISCOVERY_ALLOWED_NETWORKS"] = []
    try:
        with pytest.raises(ValidationFailed):
            discovery_scan.create_scan(endpoints["endpoints"]["chain"], actor=None)
        # A name is resolved and checked when the worker connects.
        scan = _scan(f"localhost:{endpoints['servers']['chain'].port}")
    finally:
        app.config["DISCOVERY_ALLOWED_NETWORKS"] = allowed
    [result] = scan.results
    assert (result.status, result.error_code) == ("failed", "blocked")
    assert "loopback" in result.error_message and "DISCOVERY_ALLOWED_NETWORKS" in \
        result.error_message
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


@pytest.mark.parametrize("targets, words", [
    ("", "at least one"), ("host:99999", "port"), ("bad host!:443", "not a valid host"),
    ("[::zz]:443", "not host:port"), (" ".join(f"h{i}.test" for i in range(300)), "at most"),
])
def test_bad_targets_are_refused_and_nothing_is_written(ctx, targets, words):
    with pytest.raises(ValidationFailed) as caught:
        discovery_scan.create_scan(targets, actor=None, save=True)
    assert caught.value.code == "discovery.bad_target" and words in caught.value.message
    assert db.session.scalar(select(func.count(DiscoveryScan.id))) == 0
    assert db.session.scalar(select(func.count(ScanTarget.id))) == 0


def test_concurrency_is_bounded(app, ctx, endpoints):
    silent = endpoints["servers"]["silent"]
    silent.reset_counts()
    app.config["DISCOVERY_SCAN_CONCURRENCY"] = 2
    app.config["DISCOVERY_SCAN_TIMEOUT_SECONDS"] = 0.5
    try:
        scan = _scan([f"127.0.0.1:{silent.port}/n{i}.example.test" for i in range(5)])
    finally:
        app.config["DISCOVERY_SCAN_CONCURRENCY"] = 8
        app.config["DISCOVERY_SCAN_TIMEOUT_SECONDS"] = 2
    assert [r.error_code for r in scan.results] == ["timeout"] * 5
    assert silent.accepted == 5
    # Two at once, then the next two only when those timed out (0.5 s), then the last:
    # unbounded, all five would connect at the same moment.
    times = silent.accept_times
    assert times[1] - times[0] < 0.4
    assert times[2] - times[0] >= 0.4 and times[4] - times[2] >= 0.4


def test_the_worker_runs_a_scan_started_from_the_service(ctx, jobs, endpoints):
    scan = discovery_scan.start_scan(endpoints["endpoints"]["chain"], actor=None, save=True)
    assert scan.status == "pending"
    jobs()
    db.session.expire_all()
    scan = db.session.get(DiscoveryScan, scan.id)
    assert scan.status == "complete" and scan.results[0].status == "ok"
    target = db.session.scalar(select(ScanTarget))
    assert target.last_status == "ok" and target.last_fingerprint


def test_the_rescan_of_saved_targets_notices_a_changed_certificate(ctx, jobs, endpoints,
                                                                  tmp_path):
    from tests.discovery import servers

    pki = endpoints["pki"]
    pki.leaf("before.example.test")
    pki.leaf("after.example.test")
    server = servers.tls_server(*pki.write_server_files(tmp_path, "before.example.test"))
    try:
        discovery_scan.start_scan(server.endpoint, actor=None, save=True)
        jobs()
        assert discovery_scan.rescan_saved_targets() is not None
        jobs()
        unchanged = db.session.scalars(select(ScanResult).order_by(ScanResult.id)).all()[-1]
        assert unchanged.status == "ok" and not unchanged.changed
    finally:
        server.stop()
    # The same endpoint (address and port) now serves another certificate.
    replacement = servers.tls_server(*pki.write_server_files(tmp_path, "after.example.test"),
                                     port=server.port)
    try:
        scan = discovery_scan.rescan_saved_targets()
        assert scan.trigger == "scheduled"
        jobs()
    finally:
        replacement.stop()
    db.session.expire_all()
    [result] = db.session.get(DiscoveryScan, scan.id).results
    assert result.changed and result.previous_fingerprint != result.fingerprint_sha256
    target = db.session.scalar(select(ScanTarget))
    assert target.changed_at is not None
    event = db.session.scalar(select(AuditEvent).where(
        AuditEvent.action == "discovery.endpoint_changed"))
    assert event.details["previous_fingerprint"] == result.previous_fingerprint
    summary = discovery_scan.rescan_task()           # nothing left running: a new scan
    assert summary["scan_id"] and summary["endpoints"] == 1
    assert discovery_scan.rescan_task()["scan_id"] is None      # one at a time
    # ... unless the one under way is older than half a period: its job was lost.
    stuck = db.session.get(DiscoveryScan, uuid.UUID(summary["scan_id"]))
    stuck.created_at = stuck.created_at - timedelta(hours=13)
    db.session.commit()
    again = discovery_scan.rescan_task()
    assert again["scan_id"] and again["requeued"] == 1   # the stuck one was sent again
