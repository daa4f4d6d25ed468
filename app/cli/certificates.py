"""``flask certificates revoke``: the operator's revocation (same service and JSON as the
courier API)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.cli.output import emit, json_option, service_errors
from app.services import revocation

group = click.Group("certificates", help="Certificates in the inventory.")


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
