"""Building blocks shared by every certificate the platform signs.

Root and intermediate CAs (:mod:`app.pki.ca`) use these today; leaf issuance is meant to
reuse the same issuer checks, validity clamping, key-identifier linking and signing, so
the rules live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509

from app.pki.algorithms import hash_for
from app.pki.errors import InvalidCAParameters, UnsupportedAlgorithm
from app.pki.keys import PrivateKey, PublicKey, describe_key, public_key_der
from app.pki.lint import lint_before_signing
from app.standards.tls_profile import CURVE_LABELS, required_digest

# notBefore is set slightly in the past so a relying party whose clock runs a little
# behind ours does not reject a certificate it receives seconds after issuance.
CLOCK_SKEW_BACKDATE: Final[timedelta] = timedelta(minutes=1)


def resolve_now(now: datetime | None) -> datetime:
    """Return ``now`` (or the current time) as an aware UTC datetime with whole seconds.

    X.509 times carry whole seconds; truncating here keeps what we compute equal to what
    the certificate records. Raises :class:`InvalidCAParameters` for a naive datetime,
    because guessing its zone could shift validity by hours.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise InvalidCAParameters("The issuance time must include a time zone.")
    return now.astimezone(UTC).replace(microsecond=0)


def check_signing_key(private_key: PrivateKey, role: str) -> None:
    """Refuse keys that are not RSA/EC of one of the platform's algorithms.

    ``role`` ("certificate authority", "issuer") is used in the message. Raises
    :class:`UnsupportedAlgorithm`; e.g. an imported RSA-1024 key is refused here.
    """
    info = describe_key(private_key)
    if info.algorithm is None:
        raise UnsupportedAlgorithm(
            f"The {role} key ({info.family.upper()} {info.bits}-bit) is not one of the "
            "supported key algorithms."
        )


def check_issuer(
    issuer_certificate: x509.Certificate,
    issuer_private_key: PrivateKey,
    now: datetime,
) -> None:
    """Check that a certificate and key can sign another certificate at ``now``.

    Guarantees on return: the issuer is a CA (basicConstraints cA=TRUE and, if keyUsage
    is present, keyCertSign), ``now`` lies within its validity period, and the private
    key belongs to the certificate. Raises :class:`InvalidCAParameters` otherwise, or
    :class:`UnsupportedAlgorithm` for a key type the platform does not sign with.
    """
    issuer_facts(issuer_certificate, issuer_private_key, now)


@dataclass(frozen=True)
class IssuerFacts:
    """An issuer's certificate and key, checked able to sign (all but the time, which
    :func:`issuer_facts` checks on every call), and what signing with them derives from
    them alone. Made once per issuing CA and batch (``providers.base.IssuingCA.facts``),
    not once per certificate."""
    certificate: x509.Certificate
    private_key: PrivateKey
    public_key_der: bytes                  # the issuer's SubjectPublicKeyInfo
    subject_dn: str                        # its subject, RFC 4514: the issuer DN of all it signs
    subject_casefolded: str                # the same, case-folded
    authority_key_identifier: x509.AuthorityKeyIdentifier   # for what it signs

    def check_time(self, now: datetime) -> None:
        """Raise :class:`InvalidCAParameters` unless ``now`` is within its validity."""
        if now < self.certificate.not_valid_before_utc:
            raise InvalidCAParameters(
                "The issuing certificate is not valid yet.", field="issuer"
            )
        if now > self.certificate.not_valid_after_utc:
            raise InvalidCAParameters("The issuing certificate has expired.", field="issuer")


def issuer_facts(
    issuer_certificate: x509.Certificate,
    issuer_private_key: PrivateKey,
    now: datetime,
) -> IssuerFacts:
    """:func:`check_issuer`'s checks, returning what they derived (see IssuerFacts)."""
    try:
        basic = issuer_certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        basic = None
    if basic is None or not basic.value.ca:
        raise InvalidCAParameters(
            "The issuing certificate is not a certificate authority.", field="issuer"
        )
    try:
        usage = issuer_certificate.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.value.key_cert_sign:
        raise InvalidCAParameters(
            "The issuing certificate is not allowed to sign certificates.", field="issuer"
        )
    subject_dn = issuer_certificate.subject.rfc4514_string()
    facts = IssuerFacts(
        certificate=issuer_certificate, private_key=issuer_private_key,
        public_key_der=public_key_der(issuer_certificate.public_key()),  # type: ignore[arg-type]
        subject_dn=subject_dn, subject_casefolded=subject_dn.casefold(),
        authority_key_identifier=authority_key_identifier_for(issuer_certificate))
    facts.check_time(now)
    check_signing_key(issuer_private_key, "issuer")
    if public_key_der(issuer_private_key) != facts.public_key_der:
        raise InvalidCAParameters(
            "The issuer's private key does not match the issuing certificate.",
            field="issuer",
        )
    return facts


def validity_window(
    now: datetime,
    validity_days: int,
    issuer_certificate: x509.Certificate | None = None,
) -> tuple[datetime, datetime]:
    """Return ``(not_before, not_after)`` for a certificate issued at ``now``.

    ``not_before`` is backdated by :data:`CLOCK_SKEW_BACKDATE`; with an issuer, both ends
    are clamped into the issuer's own validity, because a certificate that outlives its
    issuer is unusable for that tail and misleads users about its lifetime. The caller
    must have checked the issuer is currently valid, so the window is never empty.
    """
    not_before = now - CLOCK_SKEW_BACKDATE
    not_after = now + timedelta(days=validity_days)
    if issuer_certificate is not None:
        not_before = max(not_before, issuer_certificate.not_valid_before_utc)
        not_after = min(not_after, issuer_certificate.not_valid_after_utc)
    return not_before, not_after


def authority_key_identifier_for(
    issuer_certificate: x509.Certificate,
) -> x509.AuthorityKeyIdentifier:
    """Return the AKI for certificates signed by ``issuer_certificate``.

    Copies the issuer's SKI byte for byte, since path builders match AKI to SKI exactly;
    falls back to deriving it from the issuer's key when the issuer (e.g. an imported
    legacy CA) has no SKI.
    """
    try:
        ski = issuer_certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_certificate.public_key()  # type: ignore[arg-type]
        )
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def subject_key_identifier(public_key: PublicKey) -> x509.SubjectKeyIdentifier:
    """Return the SKI for a key (SHA-1 of the public key bits, RFC 5280 method 1).

    Method 1 is what OpenSSL and most CAs use, so identifiers stay familiar to admins.
    """
    return x509.SubjectKeyIdentifier.from_public_key(public_key)


def check_issuer_digest(issuer_private_key: PrivateKey, digest: str) -> None:
    """An ECDSA key signs with its curve's hash (P-256/SHA-256, P-384/SHA-384,
    P-521/SHA-512; BR 7.1.3.2.2); RSA keys take any offered digest. Raises
    :class:`UnsupportedAlgorithm` otherwise."""
    hash_for(digest)
    info = describe_key(issuer_private_key)
    required = required_digest(info.family, info.bits)
    if required is not None and digest != required:
        raise UnsupportedAlgorithm(
            f"The signing key is ECDSA {CURVE_LABELS[info.bits]}, so it signs with "
            f"{required.upper().replace('SHA', 'SHA-')}, not "
            f"{digest.upper().replace('SHA', 'SHA-')} (CA/B Forum BR 7.1.3.2.2).")


def sign(
    builder: x509.CertificateBuilder, issuer_private_key: PrivateKey, digest: str, *,
    without_pointers: bool = False,
) -> x509.Certificate:
    """Sign a fully populated builder with the issuer's key and a digest id.

    RSA signatures use PKCS#1 v1.5 (cryptography's default), the scheme every relying
    party accepts; EC signatures are ECDSA with the given digest. The same certificate is
    first signed by a throwaway key and linted (:func:`app.pki.lint.lint_before_signing`):
    a finding outside the allow-list raises :class:`app.pki.lint.LintRefused` and the
    issuer's key signs nothing. Raises :class:`UnsupportedAlgorithm` for an unknown digest.
    ``without_pointers``: the certificate carries no CRL DP / AIA because no revocation
    data is served (PKI_BASE_URL unset); only then are their absence findings accepted.
    """
    check_issuer_digest(issuer_private_key, digest)
    lint_before_signing(builder, issuer_private_key, digest,
                        without_pointers=without_pointers)
    return builder.sign(private_key=issuer_private_key, algorithm=hash_for(digest))
