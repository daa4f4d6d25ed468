"""Issuance of end-entity (leaf) certificates: TLS servers, clients, code and e-mail signing.

The profile follows RFC 5280 and the CA/Browser Forum subscriber profile where it applies
to a private CA: critical basicConstraints cA=FALSE, critical keyUsage exactly as
requested, non-critical extKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier from
the issuer's SKI, and a subjectAltName carrying every name (including the common name
when it is a host name or IP address). Which CA may issue leaves (e.g. only pathLen-0
intermediates, never a root) is the caller's policy: :func:`issue_leaf` signs with any
valid CA it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.pki.algorithms import DEFAULT_DIGEST, hash_for
from app.pki.errors import InvalidLeafProfile
from app.pki.issuance import (
    IssuerFacts,
    issuer_facts,
    resolve_now,
    sign,
    subject_key_identifier,
    validity_window,
)
from app.pki.keys import PrivateKey, PublicKey, public_key_der
from app.pki.leaf_names import common_name_as_host, subject_alt_names
from app.pki.pointers import RevocationPointers, with_pointers
from app.pki.subject import SubjectFields, build_name
from app.pki.subject_keys import check_subject_key
from app.standards.tls_profile import server_auth_problems

MIN_LEAF_VALIDITY_DAYS: Final[int] = 1
MAX_LEAF_VALIDITY_DAYS: Final[int] = 3650

# Usage names as RFC 5280 spells them, mapped to cryptography's KeyUsage arguments.
KEY_USAGES: Final[dict[str, str]] = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
}
EXTENDED_KEY_USAGES: Final[dict[str, x509.ObjectIdentifier]] = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
}
# RFC 5480 section 3 / RFC 3279 section 2.3.1: an EC key cannot encrypt, and an RSA key
# cannot do key agreement, so certifying those uses would promise the impossible.
_USAGES_PROHIBITED: Final[dict[str, frozenset[str]]] = {
    "ecdsa": frozenset({"keyEncipherment", "dataEncipherment"}),
    "rsa": frozenset({"keyAgreement"}),
}
_ONE_SECOND: Final[timedelta] = timedelta(seconds=1)
_NAME_LISTS: Final[dict[str, str]] = {
    "dns_names": "DNS names",
    "ip_addresses": "IP addresses",
    "emails": "E-mail addresses",
    "key_usage": "Key usages",
    "extended_key_usage": "Extended key usages",
}


def _as_names(name: str, value: object) -> tuple[str, ...]:
    # A bare string would otherwise be iterated as single characters.
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise InvalidLeafProfile(f"{_NAME_LISTS[name]} must be a list of text values.", field=name)


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


@dataclass(frozen=True)
class LeafProfile:
    """What to put into an end-entity certificate.

    Validated on construction: every usage name is known (:data:`KEY_USAGES`,
    :data:`EXTENDED_KEY_USAGES`), at least one of each is given, and timeStamping comes
    alone (RFC 3161); validity is 1-3650 days; the digest is supported; DNS names are
    non-empty printable ASCII of at most 253 characters (A-labels; their domain rules
    are the caller's job), IP addresses parse, e-mail addresses are ASCII
    ``local@domain``. Lists become tuples,
    DNS names lower case, and repeats are dropped, keeping the first. Otherwise raises
    :class:`InvalidLeafProfile` whose ``field`` names the attribute at fault (or
    :class:`UnsupportedAlgorithm` for the digest). Checks that depend on the key (an EC
    key cannot have keyEncipherment) happen in :func:`issue_leaf`.
    """

    subject: SubjectFields
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    key_usage: tuple[str, ...] = ("digitalSignature",)
    extended_key_usage: tuple[str, ...] = ("serverAuth",)
    validity_days: int = 365
    digest: str = DEFAULT_DIGEST

    def __post_init__(self) -> None:
        if not isinstance(self.subject, SubjectFields):
            raise InvalidLeafProfile("The subject must be a SubjectFields.", field="subject")
        for name in _NAME_LISTS:
            values = _as_names(name, getattr(self, name))
            if name == "dns_names":
                # DNS is case-insensitive: one spelling makes repeats and the CN match.
                values = tuple(v.lower() for v in values)
            object.__setattr__(self, name, _unique(values))
        _check_usages(self.key_usage, KEY_USAGES, "key_usage", "key usage")
        _check_usages(
            self.extended_key_usage, EXTENDED_KEY_USAGES, "extended_key_usage",
            "extended key usage",
        )
        if (
            isinstance(self.validity_days, bool)
            or not isinstance(self.validity_days, int)
            or not MIN_LEAF_VALIDITY_DAYS <= self.validity_days <= MAX_LEAF_VALIDITY_DAYS
        ):
            raise InvalidLeafProfile(
                f"Validity must be between {MIN_LEAF_VALIDITY_DAYS} and "
                f"{MAX_LEAF_VALIDITY_DAYS} days (10 years).",
                field="validity_days",
            )
        if "timeStamping" in self.extended_key_usage and len(self.extended_key_usage) > 1:
            # RFC 3161 2.3: a time-stamping certificate has that one purpose only.
            raise InvalidLeafProfile(
                "A time-stamping certificate cannot have other extended key usages.",
                field="extended_key_usage",
            )
        hash_for(self.digest)
        _general_names(self)  # validates every name now, not at signing time
        for problem in server_auth_problems(self.key_usage, self.extended_key_usage,
                                            self.emails):
            # The same rule as intake (app.standards.tls_profile), enforced at signing.
            raise InvalidLeafProfile(problem.message, field=problem.field)


def _check_usages(
    requested: tuple[str, ...], known: dict[str, object], field_name: str, label: str
) -> None:
    if not requested:
        raise InvalidLeafProfile(f"Choose at least one {label}.", field=field_name)
    for usage in requested:
        if usage not in known:
            raise InvalidLeafProfile(
                f"Unknown {label} {usage!r}; choose from {', '.join(known)}.",
                field=field_name,
            )


def _general_names(profile: LeafProfile) -> list[x509.GeneralName]:
    return subject_alt_names(
        profile.subject.common_name, profile.dns_names, profile.ip_addresses,
        profile.emails, server_auth="serverAuth" in profile.extended_key_usage,
    )


def _subject_name(profile: LeafProfile) -> x509.Name:
    # The BRs want the CN to be a character-for-character copy of a SAN entry, and SAN
    # entries are canonical (lower-case DNS, RFC 5952 IPs): so the CN becomes that
    # same canonical text. Both spellings name the same host, so nothing is lost.
    cn = common_name_as_host(
        profile.subject.common_name, "serverAuth" in profile.extended_key_usage
    )
    if cn is None:
        return build_name(profile.subject)
    return build_name(replace(profile.subject, common_name=str(cn)))


def _key_usage(requested: tuple[str, ...]) -> x509.KeyUsage:
    flags = {arg: name in requested for name, arg in KEY_USAGES.items()}
    return x509.KeyUsage(
        **flags, key_cert_sign=False, crl_sign=False, encipher_only=False,
        decipher_only=False,
    )


def issue_leaf(
    profile: LeafProfile,
    public_key: PublicKey,
    issuer_certificate: x509.Certificate,
    issuer_private_key: PrivateKey,
    now: datetime | None = None,
    pointers: RevocationPointers | None = None,
    issuer: IssuerFacts | None = None,
) -> x509.Certificate:
    """Issue an end-entity certificate for ``public_key`` signed by the issuing CA.

    Guarantees: X.509 v3; random positive serial of up to 159 bits (at least 64 random);
    subject from :func:`app.pki.subject.build_name` (UTF8String, country
    PrintableString); issuer = the CA's subject; basicConstraints cA=FALSE (critical,
    as the BRs' subscriber profile lists it); keyUsage with exactly the requested bits
    (critical); extKeyUsage with exactly the requested purposes (non-critical, except
    for a time-stamping certificate where RFC 3161 requires it critical);
    subjectKeyIdentifier (method 1); authorityKeyIdentifier equal to the issuer's SKI;
    a CN that is a host name or IP written in its canonical form (lower-case, RFC 5952),
    so it is a character-for-character copy of its SAN entry as the BRs require;
    subjectAltName (non-critical, since the subject always has a CN) with every DNS
    name, IP and e-mail of the profile plus the CN when it is a host name or IP (see
    :class:`LeafProfile`), omitted only when there is no name at all (e.g. a client
    certificate for "Jane Doe"); notBefore one minute before ``now`` (never before the
    issuer's notBefore) and a validity period, counted inclusively as the BRs do, of
    exactly ``validity_days`` days (notAfter = notBefore + days - 1 s) unless clamped to
    the issuer's notAfter; signed with the profile's digest. Any valid CA may sign,
    a root included: keeping roots offline (leaves only from pathLen-0 intermediates) is
    the caller's rule.

    Raises :class:`UnsupportedKey` / :class:`WeakKey` for a key other than RSA
    2048-16384 or EC P-256/P-384/P-521; :class:`InvalidLeafProfile` (``field`` set) when
    a requested key usage is impossible for the key (keyEncipherment/dataEncipherment
    with EC, keyAgreement with RSA), when the key is the issuer's own, or when the
    subject name equals the issuer's; :class:`InvalidCAParameters` (``field="issuer"``)
    when the issuer is not a CA, is expired or not yet valid, or its private key does
    not match it, and for a naive ``now``.

    ``issuer``: :func:`app.pki.issuance.issuer_facts` of this issuing CA, made once for
    many leaves (a batch); only the time is checked again. Without it they are made here.
    """
    info = check_subject_key(public_key, "certificate")
    impossible = [u for u in profile.key_usage if u in _USAGES_PROHIBITED[info.family]]
    if impossible:
        kind = "an elliptic-curve" if info.family == "ecdsa" else "an RSA"
        raise InvalidLeafProfile(
            f"The key usage {', '.join(impossible)} is not possible with {kind} key.",
            field="key_usage",
        )
    issued_at = resolve_now(now)
    if issuer is None:
        issuer = issuer_facts(issuer_certificate, issuer_private_key, issued_at)
    elif issuer.certificate is not issuer_certificate or \
            issuer.private_key is not issuer_private_key:
        raise ValueError("issuer facts of another issuing CA")
    else:   # the rest was checked when the facts were made
        issuer.check_time(issued_at)
    if public_key_der(public_key) == issuer.public_key_der:
        raise InvalidLeafProfile(
            "The certificate needs its own key, not the issuing CA's key.",
            field="public_key",
        )
    name = _subject_name(profile)
    if name.rfc4514_string().casefold() == issuer.subject_casefolded:
        # Subject == issuer would make the leaf look self-issued to path builders.
        raise InvalidLeafProfile(
            "The certificate's subject must differ from the issuing CA's name.",
            field="common_name",
        )

    not_before, _ = validity_window(issued_at, profile.validity_days, issuer_certificate)
    # RFC 5280 and the BRs count validity inclusively (notAfter - notBefore + 1 s), and
    # the BR limits are exact: the backdate must come out of the requested days, or a
    # "200-day" certificate would be 200 days and 61 seconds long.
    not_after = min(
        not_before + timedelta(days=profile.validity_days) - _ONE_SECOND,
        issuer_certificate.not_valid_after_utc,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_certificate.subject)
        .public_key(public_key)
        # 159 random bits: unpredictable serials defeat chosen-prefix collision attacks.
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(profile.key_usage), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [EXTENDED_KEY_USAGES[u] for u in profile.extended_key_usage]
            ),
            # RFC 3161 2.3 requires a critical EKU on time-stamping certificates, and
            # OpenSSL's timestampsign purpose check enforces it.
            critical=profile.extended_key_usage == ("timeStamping",),
        )
        .add_extension(subject_key_identifier(public_key), critical=False)
        .add_extension(issuer.authority_key_identifier, critical=False)
    )
    builder = with_pointers(builder, pointers)  # CRL DP and AIA, when revocation is served
    general_names = _general_names(profile)
    if general_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(general_names), critical=False
        )
    return sign(builder, issuer_private_key, profile.digest,
                without_pointers=pointers is None)
