"""Checks on a certificate a CA sent back: it must certify the order's key and exactly
the order's names, whatever the CA (a mismatch fails the order); and what pkilint says
about it (recorded on the order; not blocking for a public CA, whose profile is its own).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.pki.encoding import certificate_to_der
from app.pki.keys import PublicKey, same_public_key


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


@dataclass(frozen=True)
class LintFinding:
    severity: str
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"severity": self.severity, "code": self.code, "message": self.message}


@cache
def _pkix_validator():  # type: ignore[no-untyped-def]
    from pkilint.pkix import certificate, extension, name

    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS,
                                               extension.EXTENSION_MAPPINGS),
        [certificate.create_issuer_validator_container([]),
         certificate.create_validity_validator_container(),
         certificate.create_subject_validator_container([]),
         certificate.create_extensions_validator_container([]),
         certificate.create_spki_validator_container([])])


def _is_server_auth(certificate: x509.Certificate) -> bool:
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.SERVER_AUTH in usages


def lint(certificate: x509.Certificate, minimum: str = "WARNING") -> list[LintFinding]:
    """pkilint's RFC 5280 findings (and CA/B Forum TLS findings for a serverAuth
    certificate) at ``minimum`` severity or worse, validators built once per process."""
    from pkilint import finding_filter, loader
    from pkilint.cabf import serverauth
    from pkilint.pkix import certificate as pkix_certificate
    from pkilint.validation import ValidationFindingSeverity

    threshold = ValidationFindingSeverity[minimum]
    der = certificate_to_der(certificate)
    doc = loader.load_der_certificate(der, "certificate")
    results = list(_pkix_validator().validate(doc.root))
    if _is_server_auth(certificate):
        kind = serverauth.determine_certificate_type(doc)
        validator = pkix_certificate.create_pkix_certificate_validator_container(
            serverauth.create_decoding_validators(), serverauth.create_validators(kind))
        filtered, _ = finding_filter.filter_results(
            serverauth.create_serverauth_finding_filters(kind),
            validator.validate(loader.load_der_certificate(der, "certificate").root))
        results += filtered
    found: dict[tuple[str, str], LintFinding] = {}
    for result in results:
        for description in result.finding_descriptions:
            finding = description.finding
            if finding.severity <= threshold:
                key = (finding.severity.name, finding.code)
                found.setdefault(key, LintFinding(finding.severity.name, finding.code,
                                                  (description.message or "")[:300]))
    return sorted(found.values(), key=lambda f: (f.severity, f.code))
