"""Discovery scans: connect to endpoints, record the chain each serves and where and when
it was seen. ``start_scan`` (web, CLI) records the scan and hands it to the worker;
``run_scan`` (the worker's job, or the CLI in-process) probes the endpoints with bounded
concurrency and a timeout each, committing each result as it arrives so the page shows
progress. ``rescan_saved_targets`` is the scheduled re-scan of saved targets.

Connections are deliberately unverified (see ``app/net/tls_probe.py``): an expired or
self-signed certificate is exactly what a scan must find."""
from __future__ import annotations

import ipaddress
import logging
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from typing import Any

from cryptography import x509
from flask import current_app
from sqlalchemy import select, update

from app.domain.discovery import BadTarget, Endpoint, parse_endpoints
from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import CertificateLocation, DiscoveryScan, ScanResult, ScanTarget, User
from app.models.base import utcnow
from app.models.discovery import (
    RESULT_FAILED,
    RESULT_OK,
    RESULT_PENDING,
    SCAN_COMPLETE,
    SCAN_PENDING,
    SCAN_RUNNING,
    TRIGGER_MANUAL,
    TRIGGER_SCHEDULED,
)
from app.net.outbound import OutboundPolicy, address_problem
from app.net.tls_probe import ProbeResult, probe
from app.services import audit
from app.services.discovery_inventory import record_discovered
from app.services.errors import NotFound, QueueUnavailable, ValidationFailed
from app.services.lookup import by_uuid

log = logging.getLogger(__name__)
JOB_NAME = "discovery_scan"


def discovery_policy(config: Mapping[str, Any]) -> OutboundPolicy:
    """The outbound policy of scans: public addresses, plus DISCOVERY_ALLOWED_NETWORKS."""
    return OutboundPolicy.from_settings(
        allowed_networks=config.get("DISCOVERY_ALLOWED_NETWORKS") or (),
        connect_timeout=float(config.get("DISCOVERY_SCAN_TIMEOUT_SECONDS") or 10))


def job_id(scan_id: uuid.UUID | str) -> str:
    return f"discovery-scan-{scan_id}"


# ---- starting a scan ---------------------------------------------------------------------

def _checked_endpoints(targets: str | list[str]) -> list[Endpoint]:
    try:
        endpoints = parse_endpoints(targets)
    except BadTarget as exc:
        raise ValidationFailed(str(exc), code="discovery.bad_target", field="targets") from exc
    policy = discovery_policy(current_app.config)
    for endpoint in endpoints:
        # IP literals are checked now (a clear error before anything is stored); names
        # are resolved and checked when the worker connects.
        try:
            address = ipaddress.ip_address(endpoint.host)
        except ValueError:
            continue
        problem = address_problem(address, policy)
        if problem:
            raise ValidationFailed(
                f"'{endpoint}': {address} is {problem}; scanning it needs its network in "
                "the DISCOVERY_ALLOWED_NETWORKS setting.", code="discovery.target_refused",
                field="targets")
    return endpoints


def _save_targets(endpoints: list[Endpoint], actor: User | None) -> None:
    for endpoint in endpoints:
        existing = db.session.scalar(select(ScanTarget).where(
            ScanTarget.host == endpoint.host, ScanTarget.port == endpoint.port,
            ScanTarget.server_name == endpoint.server_name))
        if existing is None:
            db.session.add(ScanTarget(host=endpoint.host, port=endpoint.port,
                                      server_name=endpoint.server_name, active=True,
                                      created_by_user_id=actor.id if actor else None))
        else:
            existing.active = True


def create_scan(targets: str | list[str], *, actor: User | None, save: bool = False,
                trigger: str = TRIGGER_MANUAL, actor_label: str = "") -> DiscoveryScan:
    """Record a pending scan of ``targets`` (committed). Bad targets raise ValidationFailed
    and write nothing."""
    endpoints = _checked_endpoints(targets)
    scan = DiscoveryScan(status=SCAN_PENDING, trigger=trigger,
                         requested_by_user_id=actor.id if actor else None,
                         requested_by=(actor.email if actor else actor_label or "system"))
    db.session.add(scan)
    for position, endpoint in enumerate(endpoints, start=1):
        db.session.add(ScanResult(scan=scan, position=position, host=endpoint.host,
                                  port=endpoint.port, server_name=endpoint.server_name,
                                  status=RESULT_PENDING))
    if save:
        _save_targets(endpoints, actor)
    db.session.flush()
    audit.record("discovery.scan", resource_type="discovery_scan", resource_id=scan.id,
                 actor=actor, actor_label=actor_label or None,
                 details={"endpoints": len(endpoints), "saved": save, "trigger": trigger})
    db.session.commit()
    return scan


def start_scan(targets: str | list[str], *, actor: User | None, save: bool = False,
               trigger: str = TRIGGER_MANUAL, actor_label: str = "") -> DiscoveryScan:
    """``create_scan`` and hand it to the worker; QueueUnavailable (naming the scan) when
    Redis cannot be reached — the scan stays pending and ``requeue_pending`` sends it."""
    scan = create_scan(targets, actor=actor, save=save, trigger=trigger,
                       actor_label=actor_label)
    if not _enqueue(scan):
        raise QueueUnavailable("The scan was recorded, but the job queue cannot be reached; "
                               "it starts when a worker is back.", resource_id=str(scan.id))
    return scan


def _enqueue(scan: DiscoveryScan) -> bool:
    timeout = int(float(current_app.config.get("DISCOVERY_SCAN_TIMEOUT_SECONDS") or 10)
                  * (len(scan.results) + 1)) + 60
    return enqueue(JOB_NAME, job_id(scan.id), str(scan.id),
                   description=f"discovery scan {scan.id}", job_timeout=timeout)


def requeue_pending() -> int:
    """Send every scan still pending to the worker again (safe: job ids are unique)."""
    scans = db.session.scalars(select(DiscoveryScan).where(
        DiscoveryScan.status == SCAN_PENDING)).all()
    return sum(_enqueue(scan) for scan in scans)


# ---- running a scan (worker) ------------------------------------------------------------

def run_scan(scan_id: str) -> str:
    """Probe every pending endpoint of the scan; safe to run twice (a second run finds no
    pending endpoint). Returns the scan's final status."""
    scan = by_uuid(DiscoveryScan, scan_id)
    if scan is None:
        return "missing"
    if scan.status == SCAN_COMPLETE:
        return scan.status
    db.session.execute(update(DiscoveryScan).where(
        DiscoveryScan.id == scan.id, DiscoveryScan.status == SCAN_PENDING)
        .values(status=SCAN_RUNNING, started_at=utcnow()))
    db.session.commit()
    pending = [(r.id, r.host, r.port, r.server_name) for r in db.session.scalars(
        select(ScanResult).where(ScanResult.scan_id == scan.id,
                                 ScanResult.status == RESULT_PENDING)
        .order_by(ScanResult.position))]
    config = current_app.config
    policy = discovery_policy(config)
    timeout = float(config.get("DISCOVERY_SCAN_TIMEOUT_SECONDS") or 10)
    workers = max(1, min(int(config.get("DISCOVERY_SCAN_CONCURRENCY") or 8), len(pending) or 1))
    # Threads only do network I/O (probe); every database write happens here, in the job's
    # own thread and session, one commit per endpoint so the page sees each as it lands.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="discovery") as pool:
        futures = {pool.submit(probe, host, port, sni, policy, timeout): result_id
                   for result_id, host, port, sni in pending}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # a bug in one probe must not lose the others
                log.exception("discovery probe crashed")
                outcome = ProbeResult(error_code="tls_error",
                                      error_message=f"The probe failed: {exc.__class__.__name__}.")
            record_result(futures[future], outcome)
    db.session.execute(update(DiscoveryScan).where(DiscoveryScan.id == scan.id)
                       .values(status=SCAN_COMPLETE, finished_at=utcnow()))
    db.session.commit()
    return SCAN_COMPLETE


def _previous_fingerprint(result: ScanResult) -> str | None:
    return db.session.scalar(
        select(ScanResult.fingerprint_sha256).join(DiscoveryScan)
        .where(ScanResult.host == result.host, ScanResult.port == result.port,
               ScanResult.server_name == result.server_name, ScanResult.status == RESULT_OK,
               ScanResult.id != result.id, ScanResult.finished_at.is_not(None))
        .order_by(ScanResult.finished_at.desc()).limit(1))


def record_result(result_id: int, outcome: ProbeResult) -> None:
    """Store one endpoint's outcome (committed): the certificate in the inventory, its
    location, the target's last state, and whether the endpoint changed certificate."""
    result = db.session.get(ScanResult, result_id)
    if result is None or result.status != RESULT_PENDING:
        return
    now = utcnow()
    target = db.session.scalar(select(ScanTarget).where(
        ScanTarget.host == result.host, ScanTarget.port == result.port,
        ScanTarget.server_name == result.server_name))
    result.finished_at = now
    if not outcome.ok:
        result.status = RESULT_FAILED
        result.error_code = outcome.error_code
        result.error_message = outcome.error_message
        if target is not None:
            target.last_scanned_at, target.last_status = now, RESULT_FAILED
            target.last_error = outcome.error_message
        db.session.commit()
        return
    served = [x509.load_der_x509_certificate(der) for der in outcome.chain_der]
    cert, added = record_discovered(served[0], served[1:])
    previous = (target.last_fingerprint if target is not None and target.last_fingerprint
                else _previous_fingerprint(result))
    result.status = RESULT_OK
    result.certificate_id = cert.id
    result.fingerprint_sha256 = cert.fingerprint_sha256
    result.chain_length = len(served)
    result.new_certificate = added
    result.previous_fingerprint = previous
    _seen_at(cert.id, result, outcome.address, now)
    cert.last_seen_at = now
    if target is not None:
        target.last_scanned_at, target.last_status, target.last_error = now, RESULT_OK, None
        target.last_fingerprint = cert.fingerprint_sha256
    if result.changed:
        if target is not None:
            target.changed_at = now
        audit.record("discovery.endpoint_changed", resource_type="certificate",
                     resource_id=cert.id, actor_label="discovery scan",
                     details={"endpoint": result.endpoint, "server_name": result.server_name,
                              "previous_fingerprint": previous,
                              "fingerprint": cert.fingerprint_sha256})
    db.session.commit()


def _seen_at(certificate_id: uuid.UUID, result: ScanResult, address: str, now: Any) -> None:
    location = db.session.scalar(select(CertificateLocation).where(
        CertificateLocation.certificate_id == certificate_id,
        CertificateLocation.host == result.host, CertificateLocation.port == result.port,
        CertificateLocation.server_name == result.server_name))
    if location is None:
        db.session.add(CertificateLocation(
            certificate_id=certificate_id, host=result.host, port=result.port,
            server_name=result.server_name, address=address[:64], first_seen_at=now,
            last_seen_at=now))
    else:
        location.last_seen_at, location.address = now, address[:64]


# ---- the scheduled re-scan --------------------------------------------------------------

def rescan_saved_targets() -> DiscoveryScan | None:
    """One scan of every active saved target, handed to the worker (the daily task).
    None when there is nothing to scan or a scheduled scan is still under way."""
    targets = db.session.scalars(select(ScanTarget).where(ScanTarget.active.is_(True))
                                 .order_by(ScanTarget.id)).all()
    if not targets:
        return None
    # A scheduled scan still under way holds the next one back — unless it is older than
    # half a period: then its job was lost, and it must not block re-scans for good.
    half_period = timedelta(seconds=float(
        current_app.config.get("DISCOVERY_RESCAN_SECONDS") or 86400) / 2)
    busy = db.session.scalar(select(DiscoveryScan.id).where(
        DiscoveryScan.trigger == TRIGGER_SCHEDULED,
        DiscoveryScan.status.in_((SCAN_PENDING, SCAN_RUNNING)),
        DiscoveryScan.created_at > utcnow() - half_period).limit(1))
    if busy is not None:
        return None
    entries = [str(Endpoint(t.host, t.port, t.server_name)) for t in targets]
    scan = create_scan(entries, actor=None, trigger=TRIGGER_SCHEDULED,
                       actor_label="scheduled re-scan")
    _enqueue(scan)
    return scan


def rescan_task() -> dict[str, Any]:
    """The scheduled task's entry point: hand scans still pending (Redis was down when they
    were started) to the worker again, then re-scan the saved endpoints. Returns a
    JSON-friendly summary."""
    requeued = requeue_pending()
    scan = rescan_saved_targets()
    return {"scan_id": str(scan.id) if scan else None,
            "endpoints": len(scan.results) if scan else 0, "requeued": requeued}


def stalled_reason(scan: DiscoveryScan) -> str | None:
    """Why a scan that should be moving is not, for its page; None while all is well."""
    now = utcnow()
    if scan.status == SCAN_PENDING and scan.created_at < now - timedelta(seconds=60):
        return ("No worker has started this scan for over a minute: is the worker running? "
                "It starts when a worker is back (the daily re-scan also sends it again).")
    return None


# ---- reading -----------------------------------------------------------------------------

def get_scan(scan_id: str) -> DiscoveryScan:
    scan = by_uuid(DiscoveryScan, scan_id)
    if scan is None:
        raise NotFound("No such scan.", code="discovery.scan_not_found")
    return scan


def recent_scans(limit: int = 20) -> list[DiscoveryScan]:
    return list(db.session.scalars(select(DiscoveryScan)
                                   .order_by(DiscoveryScan.created_at.desc()).limit(limit)))


def saved_targets() -> list[ScanTarget]:
    return list(db.session.scalars(select(ScanTarget).where(ScanTarget.active.is_(True))
                                   .order_by(ScanTarget.host, ScanTarget.port)))


def progress(scan: DiscoveryScan) -> tuple[int, int]:
    """(endpoints done, endpoints in all)."""
    return sum(r.status != RESULT_PENDING for r in scan.results), len(scan.results)
