"""What the chosen issuing CA imposes on a request: an ECDSA issuer signs with its curve's
hash (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512; CA/B Forum BR 7.1.3.2.2), the same rule
the PKI core applies at signing (``app.standards.tls_profile``).

Code: ``digest.issuer_curve`` (hard, field ``digest``).
"""
from __future__ import annotations

from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.standards.tls_profile import digest_reason, required_digest_for_algorithm

__all__ = ["check_issuer_digest", "issuer_digest"]


def issuer_digest(issuer_algorithm: str | None) -> str | None:
    """The only digest an issuer of this algorithm signs with, or None (RSA: free)."""
    return required_digest_for_algorithm(issuer_algorithm)


def check_issuer_digest(request: CertificateRequest, issuer_algorithm: str | None,
                        issuer_label: str) -> list[Violation]:
    required = issuer_digest(issuer_algorithm)
    if required is None or request.digest is None or request.digest == required:
        return []
    bits = int((issuer_algorithm or "-0").split("-")[1])
    return [Violation(
        code="digest.issuer_curve", field="digest", expected=required, actual=request.digest,
        message=f"The issuing CA {issuer_label} signs with "
                f"{required.upper().replace('SHA', 'SHA-')} only: {digest_reason(bits)}. "
                f"Choose {required.upper().replace('SHA', 'SHA-')}.")]
