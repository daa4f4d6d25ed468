"""``flask certificates …``: lifecycle actions on issued certificates (SPEC 10): renew,
revoke (same service and JSON as the courier API) and the expiry scan."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.output import emit, fail, json_option, service_errors
from app.models import Certificate
from app.services import renewals, revocation
from app.services.lookup import by_uuid
from app.services.orders import PolicyRejected

group = click.Group("certificates", help="Certificates: renewal, revocation and the expiry scan.")


def _read_csr(path: Path | None, as_json: bool) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()[:renewals.MAX_CSR_BYTES + 1]
    except OSError as exc:
        fail(f"Cannot read {path}: {exc.strerror}.", "file.unreadable", as_json)
    return None


@group.command("renew")
@click.argument("certificate_id")
@click.option("--csr", "csr_path", type=click.Path(dir_okay=False, path_type=Path),
              help="A new CSR (PEM or DER); required to renew a CSR order.")
@click.option("--revoke-predecessor", is_flag=True,
              help="Revoke the renewed certificate (superseded) once the new one is issued.")
@json_option
@with_appcontext
@service_errors
def renew(certificate_id: str, csr_path: Path | None, revoke_predecessor: bool,
          as_json: bool) -> None:
    """Renew a certificate for its original requester, in their channel and scope: a new
    order built from the original request, judged again (action certificate.renew)."""
    cert = by_uuid(Certificate, certificate_id)
    if cert is None:
        fail(f"No certificate with id '{certificate_id}'.", "certificate.not_found", as_json)
    csr = _read_csr(csr_path, as_json)
    original = renewals.original_order(cert)
    requester = renewals.original_requester(original)
    try:
        order, assessment = renewals.renew(cert, requester, pathway=original.pathway,
                                           csr=csr, revoke_predecessor=revoke_predecessor)
    except PolicyRejected as exc:
        details = [{"code": v.code, "field": v.field, "message": v.message}
                   for v in exc.violations]
        if as_json:
            click.echo(json.dumps({"error": {"code": "request.rejected",
                                             "message": exc.message, "details": details}}),
                       err=True)
            raise SystemExit(2) from exc
        fail("; ".join(d["message"] for d in details), "request.rejected", as_json)
    payload = {"order_id": str(order.id), "status": order.status, "pathway": order.pathway,
               "renews_order_id": str(original.id), "renews_certificate_id": str(cert.id),
               "requested_by": requester.display,
               "warnings": [{"code": v.code, "message": v.message} for v in assessment.soft]}
    emit(as_json, payload, f"Renewal order {order.id} ({order.status}) for "
                           f"{cert.common_name}, requested for {requester.display}.")


@group.command("expiry-scan")
@json_option
@with_appcontext
@service_errors
def expiry_scan(as_json: bool) -> None:
    """Run the expiry scan now (the scheduler runs it daily): alerts for certificates that
    crossed a threshold, their e-mails and webhook events — each only once."""
    from app.services import expiry

    report = expiry.run_scan().as_dict()
    emit(as_json, report, f"Raised {report['alerts_total']} expiry alerts "
                          f"({', '.join(f'{k} {v}' for k, v in report['alerts'].items())}); "
                          f"queued {report['emails']} e-mails and "
                          f"{report['webhook_deliveries']} webhook deliveries.")


@group.command("revoke")
@click.argument("certificate_id")
@click.option("--reason", required=True,
              help="RFC 5280 reason: " + ", ".join(revocation.CERTIFICATE_REASONS) + ".")
@json_option
@with_appcontext
@service_errors
def revoke(certificate_id: str, reason: str, as_json: bool) -> None:
    """Revoke a certificate (final): at once for the Local PKI, sent to its CA otherwise."""
    certificate = revocation.certificate_by_id(certificate_id)
    result = revocation.revoke_certificate(certificate, reason, actor_label="cli")
    emit(as_json, result.as_dict(),
         f"{certificate.common_name} ({certificate.serial_hex}): {result.status}")
