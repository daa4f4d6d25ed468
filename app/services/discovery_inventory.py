"""The one way a certificate found outside the platform enters the inventory (imports and
scans both call it): de-duplicated by SHA-256 fingerprint, source ``discovered``, every
field read from the certificate itself. A certificate the platform issued (``managed``) is
never changed by being found again."""
from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from sqlalchemy import select

from app.extensions import db
from app.models import Certificate
from app.models.certificates import SOURCE_DISCOVERED
from app.pki.discovered import facts
from app.pki.encoding import certificate_to_pem, fingerprint_sha256


def find_by_fingerprint(fingerprint: str) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(
        Certificate.fingerprint_sha256 == fingerprint))


def record_discovered(cert: x509.Certificate, chain: Sequence[x509.Certificate]
                      ) -> tuple[Certificate, bool]:
    """The inventory row of ``cert`` and whether it was added now. Joins the caller's
    transaction. A discovered row without a chain gains the one given."""
    existing = find_by_fingerprint(fingerprint_sha256(cert))
    chain_text = "".join(certificate_to_pem(c).decode() for c in chain)
    if existing is not None:
        if existing.source == SOURCE_DISCOVERED and chain_text and not existing.chain_pem:
            existing.chain_pem = chain_text
        return existing, False
    about = facts(cert)
    row = Certificate(
        source=SOURCE_DISCOVERED, order_id=None, owner_user_id=None,
        common_name=about.common_name, sans=about.sans, issuer_dn=about.issuer_dn,
        provider=about.issuer_name, provider_id=None, issuer_ca_id=None,
        algorithm=about.algorithm[:16], digest=about.digest[:16],
        serial_hex=about.serial_hex[:64], fingerprint_sha256=about.fingerprint_sha256,
        not_before=about.not_before, not_after=about.not_after,
        certificate_pem=about.pem, chain_pem=chain_text)
    db.session.add(row)
    db.session.flush()
    return row, True
