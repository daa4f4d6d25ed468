"""Creation of root and intermediate certificate authorities.

Both kinds get the RFC 5280 CA profile: critical basicConstraints cA=TRUE, critical
keyUsage keyCertSign + cRLSign, a subject key identifier and an authority key
identifier. Leaf issuance belongs in a sibling module (``app.pki.leaf``) built on the
same :mod:`app.pki.issuance` helpers; nothing here is specific to CAs beyond the profile.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.pki.algorithms import hash_for
from app.pki.errors import InvalidCAParameters
from app.pki.issuance import (
    authority_key_identifier_for,
    check_issuer,
    check_signing_key,
    resolve_now,
    sign,
    subject_key_identifier,
    validity_window,
)
from app.pki.keys import PrivateKey, PublicKey, same_public_key
from app.pki.pointers import RevocationPointers, with_pointers
from app.pki.subject import SubjectFields, build_name

MIN_CA_VALIDITY_DAYS: Final[int] = 1
MAX_CA_VALIDITY_DAYS: Final[int] = 9125  # 25 years

# Exactly the two uses a CA key needs; anything more widens what a stolen key can sign.
_CA_KEY_USAGE: Final[x509.KeyUsage] = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


_EKUS: Final[dict[str, x509.ObjectIdentifier]] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
}


def _check_validity_days(validity_days: int) -> None:
    if (
        isinstance(validity_days, bool)
        or not isinstance(validity_days, int)
        or not MIN_CA_VALIDITY_DAYS <= validity_days <= MAX_CA_VALIDITY_DAYS
    ):
        raise InvalidCAParameters(
            f"Validity must be between {MIN_CA_VALIDITY_DAYS} and "
            f"{MAX_CA_VALIDITY_DAYS} days (25 years).",
            field="validity_days",
        )


def _ca_builder(
    subject_name: x509.Name,
    issuer_name: x509.Name,
    public_key: PublicKey,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
    aki: x509.AuthorityKeyIdentifier,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer_name)
        .public_key(public_key)
        # 159 random bits: unpredictable serials defeat chosen-prefix collision attacks.
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(subject_key_identifier(public_key), critical=False)
        .add_extension(aki, critical=False)
    )


def create_root_certificate(
    subject: SubjectFields,
    private_key: PrivateKey,
    digest: str,
    validity_days: int,
    now: datetime | None = None,
) -> x509.Certificate:
    """Create a self-signed root CA certificate.

    Guarantees: issuer == subject; basicConstraints cA=TRUE with no path-length limit
    (critical); keyUsage keyCertSign + cRLSign only (critical); SKI, and an AKI whose
    keyid equals that SKI (RFC 5280 lets roots omit AKI, but CA/B Forum profiles
    recommend it and it never hurts path building); random positive serial of up to 159
    bits; notBefore one minute before ``now``, notAfter ``validity_days`` after it.

    Raises :class:`InvalidCAParameters` for a validity outside 1-9125 days or a naive
    ``now``, and :class:`UnsupportedAlgorithm` for an unknown digest or a key that is not
    one of the platform's algorithms.
    """
    hash_for(digest)  # validate every input before any signing work
    _check_validity_days(validity_days)
    check_signing_key(private_key, "certificate authority")
    issued_at = resolve_now(now)
    not_before, not_after = validity_window(issued_at, validity_days)
    name = build_name(subject)
    ski = subject_key_identifier(private_key.public_key())
    builder = _ca_builder(
        subject_name=name,
        issuer_name=name,
        public_key=private_key.public_key(),
        not_before=not_before,
        not_after=not_after,
        path_length=None,
        aki=x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
    )
    return sign(builder, private_key, digest)


def create_intermediate_certificate(
    subject: SubjectFields,
    private_key: PrivateKey,
    digest: str,
    validity_days: int,
    issuer_certificate: x509.Certificate,
    issuer_private_key: PrivateKey,
    path_length: int = 0,
    now: datetime | None = None,
    pointers: RevocationPointers | None = None,
    extended_key_usage: tuple[str, ...] = (),
    permitted_dns: tuple[str, ...] = (),
) -> x509.Certificate:
    """Create an intermediate CA certificate signed by ``issuer_certificate``'s key.

    ``extended_key_usage`` (names as in :data:`app.pki.leaf.EXTENDED_KEY_USAGES`) becomes a
    non-critical EKU extension limiting what the CA's leaves may be used for;
    ``permitted_dns`` a critical nameConstraints extension with those DNS subtrees
    permitted and every IPv4/IPv6 address excluded (BR 7.1.2.10.8: a DNS-constrained CA
    must not leave IP addresses unconstrained).

    Guarantees: basicConstraints cA=TRUE, pathLenConstraint=``path_length`` (critical);
    keyUsage keyCertSign + cRLSign only (critical); SKI of ``private_key``; AKI equal to
    the issuer's SKI; signed with ``digest``; validity clamped into the issuer's own
    validity (notAfter never past the issuer's notAfter).

    Raises :class:`InvalidCAParameters` (with ``field`` set where one applies) when:
    the validity is outside 1-9125 days; ``path_length`` is negative or not below the
    issuer's own path-length limit; the issuer is not a CA, is expired or not yet valid;
    ``issuer_private_key`` does not match the issuer certificate; ``private_key`` is the
    issuer's key; or the subject name equals the issuer's (which would make the
    certificate self-issued and confuse path building). Raises
    :class:`UnsupportedAlgorithm` for an unknown digest or an unsupported key.
    """
    hash_for(digest)  # validate every input before any signing work
    _check_validity_days(validity_days)
    if isinstance(path_length, bool) or not isinstance(path_length, int) or path_length < 0:
        raise InvalidCAParameters(
            "Path length must be zero or a positive whole number.", field="path_length"
        )
    check_signing_key(private_key, "certificate authority")
    issued_at = resolve_now(now)
    check_issuer(issuer_certificate, issuer_private_key, issued_at)

    issuer_limit = issuer_certificate.extensions.get_extension_for_class(
        x509.BasicConstraints
    ).value.path_length
    if issuer_limit is not None and path_length >= issuer_limit:
        raise InvalidCAParameters(
            f"The issuing CA allows at most {issuer_limit} further CA level(s) below it, "
            f"so the path length must be below {issuer_limit}."
            if issuer_limit > 0
            else "The issuing CA may not sign other certificate authorities "
            "(its path length is 0).",
            field="path_length",
        )
    if same_public_key(private_key, issuer_private_key):
        raise InvalidCAParameters(
            "The intermediate CA needs its own key, not the issuer's.", field="private_key"
        )
    name = build_name(subject)
    if _names_match(name, issuer_certificate.subject):
        raise InvalidCAParameters(
            "The intermediate CA's name must differ from the issuing CA's name.",
            field="common_name",
        )

    not_before, not_after = validity_window(issued_at, validity_days, issuer_certificate)
    builder = _ca_builder(
        subject_name=name,
        issuer_name=issuer_certificate.subject,
        public_key=private_key.public_key(),
        not_before=not_before,
        not_after=not_after,
        path_length=path_length,
        aki=authority_key_identifier_for(issuer_certificate),
    )
    if extended_key_usage:
        unknown = [u for u in extended_key_usage if u not in _EKUS]
        if unknown:
            raise InvalidCAParameters(f"Unknown extended key usage {', '.join(unknown)}.",
                                      field="extended_key_usage")
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([_EKUS[u] for u in extended_key_usage]), critical=False)
    if permitted_dns:
        builder = builder.add_extension(x509.NameConstraints(
            permitted_subtrees=[x509.DNSName(d) for d in permitted_dns],
            excluded_subtrees=[x509.IPAddress(ipaddress.ip_network("0.0.0.0/0")),
                               x509.IPAddress(ipaddress.ip_network("::/0"))]),
            critical=True)
    # The root's CRL and OCSP responder, when revocation is served.
    return sign(with_pointers(builder, pointers), issuer_private_key, digest,
                without_pointers=pointers is None)


def _names_match(a: x509.Name, b: x509.Name) -> bool:
    # RFC 5280 compares most DN strings case-insensitively, so "Acme Root" and
    # "ACME ROOT" would be treated as the same name by some validators.
    return a == b or a.rfc4514_string().casefold() == b.rfc4514_string().casefold()
