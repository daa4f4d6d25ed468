"""What the chosen issuing CA imposes on a request: an ECDSA issuer signs with its curve's
hash (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512; CA/B Forum BR 7.1.3.2.2), the same rule
the PKI core applies at signing (``app.standards.tls_profile``).

An intermediate with an EKU certifies only those purposes, and one with name constraints
only names under its permitted DNS subtrees (no IP addresses or e-mail addresses: the
platform's constrained CAs exclude every IP range).

Codes (hard): ``digest.issuer_curve`` (field ``digest``), ``extended_key_usage.outside_issuer``,
``name.outside_issuer_constraints``.
"""
from __future__ import annotations

from app.domain.choices import DIGESTS
from app.domain.names import name_is_covered
from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.standards.tls_profile import digest_reason, required_digest_for_algorithm

__all__ = ["check_issuer_constraints", "check_issuer_digest", "issuer_digest"]


def issuer_digest(issuer_algorithm: str | None) -> str | None:
    """The only digest an issuer of this algorithm signs with, or None (RSA: free)."""
    return required_digest_for_algorithm(issuer_algorithm)


def check_issuer_digest(request: CertificateRequest, issuer_algorithm: str | None,
                        issuer_label: str) -> list[Violation]:
    required = issuer_digest(issuer_algorithm)
    if required is None or request.digest is None or request.digest == required:
        return []
    if request.digest not in DIGESTS:  # digest.unknown says it; one problem, one message
        return []
    bits = int((issuer_algorithm or "-0").split("-")[1])
    return [Violation(
        code="digest.issuer_curve", field="digest", expected=required, actual=request.digest,
        message=f"The issuing CA {issuer_label} signs with "
                f"{required.upper().replace('SHA', 'SHA-')} only: {digest_reason(bits)}. "
                f"Choose {required.upper().replace('SHA', 'SHA-')}.")]


def check_issuer_constraints(request: CertificateRequest,
                             issuer_eku: tuple[str, ...] | None,
                             permitted_dns: tuple[str, ...] | None,
                             issuer_label: str) -> list[Violation]:
    found = []
    if issuer_eku:
        outside = [u for u in request.extended_key_usage if u not in issuer_eku]
        if outside:
            found.append(Violation(
                code="extended_key_usage.outside_issuer", field="extended_key_usage",
                expected=", ".join(issuer_eku), actual=", ".join(outside),
                message=f"The issuing CA {issuer_label} certifies only "
                        f"{', '.join(issuer_eku)}, not {', '.join(outside)}."))
    if permitted_dns:
        outside = [n for n in request.all_dns_names()
                   if not name_is_covered(n.removeprefix("*."), permitted_dns)]
        outside += [*request.ip_addresses, *request.emails]
        if outside:
            found.append(Violation(
                code="name.outside_issuer_constraints",
                field="common_name" if request.common_name in outside else "sans",
                expected=", ".join(permitted_dns), actual=", ".join(outside),
                message=f"The issuing CA {issuer_label} is name-constrained to "
                        f"{', '.join(permitted_dns)} (DNS names only); "
                        f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} "
                        "outside."))
    return found
