"""``flask discovery …``: import certificates and scan TLS endpoints (issue 16).

``scan`` runs the same scan the worker runs (``services/discovery_scan.run_scan``) in this
process by default, so an operator sees the results at once; ``--queue`` hands it to the
worker instead and prints the scan id."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.extensions import db
from app.models import DiscoveryScan
from app.services import discovery_import, discovery_scan
from app.services.errors import ValidationFailed

group = click.Group("discovery", help="Import certificates and scan TLS endpoints.")


def _read(path: str, as_json: bool) -> bytes:
    try:
        file = Path(path)
        if file.stat().st_size > discovery_import.MAX_IMPORT_BYTES:
            fail(f"{path} is larger than {discovery_import.MAX_IMPORT_BYTES // 1024} KiB.",
                 "discovery.too_large", as_json)
        return file.read_bytes()
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror}.", "file.unreadable", as_json)
    raise AssertionError("unreachable")


@group.command("import")
@click.argument("files", nargs=-1, required=True)
@json_option
@with_appcontext
def import_files(files: tuple[str, ...], as_json: bool) -> None:
    """Import the certificates in FILES (PEM, DER or PKCS#7); a file holding a private key
    or no certificate is refused whole (nothing of it stored), the others still import."""
    report: list[dict[str, object]] = []
    lines: list[str] = []
    failed = False
    for path in files:
        data = _read(path, as_json)
        try:
            results = discovery_import.import_certificates(data, origin="cli",
                                                           actor_label="cli")
        except ValidationFailed as exc:
            db.session.rollback()
            failed = True
            report.append({"file": path, "error": {"code": exc.code, "message": exc.message}})
            lines.append(f"{path}: refused: {exc.message}")
            continue
        report.append({"file": path, "results": [r.as_json() for r in results]})
        lines.extend(f"{path} #{r.position}: {r.status}: {r.common_name or '—'} — {r.reason}"
                     for r in results)
    emit(as_json, {"files": report}, "\n".join(lines))
    if failed:
        raise SystemExit(2)


def _scan_json(scan: DiscoveryScan) -> dict[str, object]:
    return {"id": str(scan.id), "status": scan.status, "results": [
        {"endpoint": r.endpoint, "server_name": r.server_name, "status": r.status,
         "error": {"code": r.error_code, "message": r.error_message} if r.error_code else None,
         "certificate_id": str(r.certificate_id) if r.certificate_id else None,
         "fingerprint_sha256": r.fingerprint_sha256, "chain_length": r.chain_length,
         "new_certificate": r.new_certificate, "changed": r.changed,
         "common_name": r.certificate.common_name if r.certificate else None,
         "not_after": r.certificate.not_after.isoformat() if r.certificate else None}
        for r in scan.results]}


@group.command("scan")
@click.argument("targets", nargs=-1, required=True)
@click.option("--save", is_flag=True, help="Save the endpoints for the daily re-scan.")
@click.option("--queue", "queued", is_flag=True,
              help="Hand the scan to the worker and print its id instead of waiting.")
@json_option
@with_appcontext
@service_errors
def scan(targets: tuple[str, ...], save: bool, queued: bool, as_json: bool) -> None:
    """Scan HOST:PORT… (port 443 if left out; HOST:PORT/NAME sends NAME as SNI)."""
    if queued:
        found = discovery_scan.start_scan(list(targets), actor=None, save=save,
                                          actor_label="cli")
        emit(as_json, _scan_json(found), f"Scan {found.id} queued.")
        return
    found = discovery_scan.create_scan(list(targets), actor=None, save=save,
                                       actor_label="cli")
    discovery_scan.run_scan(str(found.id))
    db.session.expire_all()
    found = db.session.get(DiscoveryScan, found.id)
    lines = [f"{r.endpoint}{' (' + r.server_name + ')' if r.server_name else ''}: "
             + (f"{r.certificate.common_name} expires {r.certificate.not_after:%Y-%m-%d}"
                f"{' (new)' if r.new_certificate else ''}{' CHANGED' if r.changed else ''}"
                if r.certificate else f"{r.error_code}: {r.error_message}")
             for r in found.results]
    emit(as_json, _scan_json(found), "\n".join(lines))


@group.command("rescan")
@json_option
@with_appcontext
def rescan(as_json: bool) -> None:
    """Queue a scan of every saved endpoint now (what the daily schedule does)."""
    found = discovery_scan.rescan_saved_targets()
    emit(as_json, {"scan_id": str(found.id) if found else None},
         f"Scan {found.id} queued." if found else "Nothing to re-scan (no saved endpoints, "
         "or a scheduled scan is still running).")
