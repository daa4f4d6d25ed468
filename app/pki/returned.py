"""Checks on a certificate a CA sent back: it must certify the order's key and exactly
the order's names, whatever the CA (a mismatch fails the order); and what pkilint says
about it (recorded on the order; not blocking for a public CA, whose profile is its own).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import NameOID

from app.pki.keys import PublicKey, same_public_key
from app.pki.lint import LintFinding, lint_certificate


def mismatches(certificate: x509.Certificate, public_key: PublicKey, *,
               dns_names: Iterable[str], ip_addresses: Iterable[str] = (),
               emails: Iterable[str] = (), common_name: str | None = None) -> list[str]:
    """Why ``certificate`` is not the one ordered (empty when it is)."""
    problems = []
    if not same_public_key(certificate.public_key(), public_key):
        problems.append("it certifies a different public key than the order's")
    try:
        san = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = x509.SubjectAlternativeName([])
    got_dns = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    got_ips = {ipaddress.ip_address(a) for a in san.get_values_for_type(x509.IPAddress)}
    got_emails = {e.lower() for e in san.get_values_for_type(x509.RFC822Name)}
    want_dns = {n.lower() for n in dns_names}
    want_ips = {ipaddress.ip_address(a) for a in ip_addresses}
    want_emails = {e.lower() for e in emails}
    for kind, got, want in (("DNS names", got_dns, want_dns),
                            ("IP addresses", got_ips, want_ips),
                            ("e-mail addresses", got_emails, want_emails)):
        if got != want:
            extra = sorted(str(v) for v in got - want)
            missing = sorted(str(v) for v in want - got)
            problems.append(f"its {kind} differ from the order's"
                            + (f" (extra: {', '.join(extra)})" if extra else "")
                            + (f" (missing: {', '.join(missing)})" if missing else ""))
    names = {*want_dns, *(str(i) for i in want_ips), *want_emails,
             *([common_name.lower()] if common_name else [])}
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = str(attribute.value).lower()
        if value not in names:
            problems.append(f"its common name '{value}' is not one of the order's names")
    return problems


def lint(certificate: x509.Certificate) -> list[LintFinding]:
    """pkilint's findings (WARNING or worse) on a certificate a CA returned; the BR
    certificate type is pkilint's own detection from the CA's policy OIDs."""
    return lint_certificate(certificate, detect_type=True)
