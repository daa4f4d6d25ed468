"""Building and signing a CRL (RFC 5280 section 5) for an issuing CA.

``build_crl`` is the one place a CRL is built and signed (a lint-before-signing step
belongs here). Profile: v2, the issuer's subject, thisUpdate/nextUpdate, CRL number and
authority key identifier (non-critical), one entry per revoked serial with its revocation
date and a reasonCode unless the reason is ``unspecified`` (RFC 5280 5.3.1 and the CA/B
Forum BRs: then the entry carries no reasonCode)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from app.pki.algorithms import hash_for
from app.pki.issuance import authority_key_identifier_for
from app.pki.keys import PrivateKey
from app.pki.lint import lint_before_signing
from app.pki.revocation_reasons import FLAGS, UNSPECIFIED


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str            # an RFC 5280 reason name (app.pki.revocation_reasons)


def build_crl(issuer_certificate: x509.Certificate, issuer_key: PrivateKey, digest: str,
              entries: Iterable[RevokedEntry], number: int, this_update: datetime,
              next_update: datetime) -> x509.CertificateRevocationList:
    """Sign the CRL number ``number`` of ``issuer_certificate`` listing ``entries``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(authority_key_identifier_for(issuer_certificate), critical=False)
    )
    for entry in entries:
        revoked = (x509.RevokedCertificateBuilder().serial_number(entry.serial)
                   .revocation_date(entry.revoked_at))
        if entry.reason != UNSPECIFIED:
            revoked = revoked.add_extension(x509.CRLReason(FLAGS[entry.reason]),
                                            critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    lint_before_signing(builder, issuer_key, digest)   # lint_crl on a throwaway signature
    return builder.sign(private_key=issuer_key, algorithm=hash_for(digest))
