"""The ONE list of pkilint findings the Local PKI accepts on what it signs, each with its
reason. Any other finding of WARNING or worse refuses the signature
(:func:`app.pki.lint.lint_before_signing`).

A private CA is not a publicly trusted one: it asserts no CA/B Forum policy, names internal
hosts, and lets policies (not the BRs) bound validity and subject content. Everything else
the BRs and RFC 5280 ask for, the platform does. ``until`` marks an entry that must go when
the named work lands (the test of the allow-list then proves the finding gone).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class AllowedFinding:
    code: str
    reason: str
    until: str | None = None


_ENTRIES: Final[tuple[AllowedFinding, ...]] = (
    AllowedFinding(
        "cabf.serverauth.subscriber.certificate_policies_extension_absent",
        "A private CA asserts no CA/B Forum policy OID (it is not audited against the "
        "BRs) and has no CPS URL to point to."),
    AllowedFinding(
        "cabf.serverauth.certificate_validity_period_exceeds_*",
        "The BRs' validity limits (398, then 200 days) bind publicly trusted TLS only; a "
        "private CA's validity is bounded by its policies (enforce_max_validity) and the "
        "issuer's notAfter."),
    AllowedFinding(
        "cabf.serverauth.subscriber_rsa_digitalsignature_and_keyencipherment_present",
        "An RSA TLS leaf keeps keyEncipherment beside digitalSignature (the default for "
        "RSA keys): internal clients that still use RSA key exchange need it."),
    AllowedFinding(
        "cabf.serverauth.dv.common_name_attribute_present",
        "The CN is kept (deprecated by the BRs, not forbidden): many internal clients "
        "still read it; it is always a character-for-character copy of a SAN entry."),
    AllowedFinding(
        "cabf.serverauth.ov.common_name_attribute_present",
        "As for DV: the CN is kept and is always a copy of a SAN entry."),
    AllowedFinding(
        "cabf.serverauth.subscriber.subject_key_identifier_extension_present",
        "The BRs discourage a leaf SKI, RFC 5280's linter wants one; the platform follows "
        "RFC 5280 (no leaf is clean under both)."),
    AllowedFinding(
        "cabf.internal_domain_name",
        "Internal names (.internal, .test, .corp, ...) are what a private CA certifies; "
        "only registered domains of the platform are accepted at intake."),
    AllowedFinding(
        "cabf.internal_ip_address",
        "Private (RFC 1918 / ULA) addresses are what a private CA certifies; only "
        "registered networks are accepted at intake."),
    AllowedFinding(
        "cabf.serverauth.subscriber_stateprovince_and_locality_missing",
        "Subject attributes are the requester's (or a policy's) choice; a private CA does "
        "not validate organisations to the BRs' OV level. Policies can require ST/L."),
    AllowedFinding(
        "cabf.serverauth.ov.country_attribute_absent",
        "As for ST/L: an organisation without a country is the requester's choice in a "
        "private CA (policies can enforce a country)."),
    AllowedFinding(
        "cabf.serverauth.ov.organizational_unit_name_attribute_present",
        "OU on a leaf stays the requester's choice in a private CA (policies can forbid "
        "it); new CAs no longer get an OU."),
)

#: Accepted ONLY on a certificate signed without revocation pointers because none are
#: served (PKI_BASE_URL unset: development and the pure PKI unit tests; production refuses
#: to start without it). With the setting, new leaves carry CRL DP + AIA and these
#: findings refuse the signature like any other (tests/jobs/test_issuance_matrix.py).
_WITHOUT_POINTERS: Final[tuple[AllowedFinding, ...]] = (
    AllowedFinding(
        "cabf.serverauth.subscriber.authority_info_access_extension_absent",
        "No OCSP responder / caIssuers URL is served (PKI_BASE_URL unset)."),
    AllowedFinding(
        "cabf.serverauth.subscriber.revocation_information_absent",
        "No CRL distribution point / OCSP URL is served (PKI_BASE_URL unset)."),
    AllowedFinding(
        "msft.end_entity.revocation_information_absent",
        "Microsoft's root-program copy of the same rule; PKI_BASE_URL unset."),
)

ALLOWED: Final[dict[str, AllowedFinding]] = {entry.code: entry for entry in _ENTRIES}
# An entry ending in "*" covers every code it prefixes (the BR validity codes name the
# limit in force at the certificate's notBefore: ..._exceeds_199_days, ..._397_days, ...).
_PREFIXES: Final[tuple[str, ...]] = tuple(c[:-1] for c in ALLOWED if c.endswith("*"))


def allowed_entry(code: str) -> AllowedFinding | None:
    if code in ALLOWED:
        return ALLOWED[code]
    prefix = next((p for p in _PREFIXES if code.startswith(p)), None)
    return ALLOWED[prefix + "*"] if prefix is not None else None


WITHOUT_POINTERS: Final[dict[str, AllowedFinding]] = {e.code: e for e in _WITHOUT_POINTERS}


def is_allowed(code: str, *, without_pointers: bool = False) -> bool:
    """``without_pointers``: the certificate was built with no revocation pointers because
    none are served (see ``WITHOUT_POINTERS``)."""
    return allowed_entry(code) is not None or (without_pointers and code in WITHOUT_POINTERS)
