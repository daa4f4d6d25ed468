"""The smallest revocation the ACME server needs (revokeCert): mark the inventory row
revoked with its RFC 5280 reason and audit it.

Written because the platform's revocation service (CRL/OCSP, ``services/revocation.py``,
issue 11) had not landed when revokeCert was built; once it has, ``revoke`` should call it
and this module go (the lead reconciles). Local PKI certificates need no call to a CA:
the platform is the CA."""
from __future__ import annotations

from app.extensions import db
from app.models import Certificate
from app.models.base import utcnow
from app.services import audit


def revoke(certificate: Certificate, reason: str, *, actor_label: str) -> None:
    certificate.revoked = True
    certificate.revoked_at = utcnow()
    certificate.revocation_reason = reason
    audit.record("certificate.revoke", resource_type="certificate",
                 resource_id=certificate.id, actor_label=actor_label,
                 details={"reason": reason, "serial": certificate.serial_hex,
                          "channel": "acme"})
    db.session.commit()
