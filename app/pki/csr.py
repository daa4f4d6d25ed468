"""Reading and writing PKCS#10 certificate signing requests (CSRs).

:func:`parse_csr` is the only place in the platform that parses CSR bytes from users, so
every limit lives here: size first (before any parser sees the data), then format,
self-signature, key type and size, and the requested names. It does not judge the
names (domain rules, ownership) nor refuse a requested CA flag: it reports what was
asked for in :class:`ParsedCSR`, and the policy and validation layers decide, so the
user sees those refusals with every other policy violation.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from app.pki.algorithms import DEFAULT_DIGEST, hash_for
from app.pki.errors import CSRTooLarge, InvalidCSR, UnsupportedKey, WeakCSRSignature
from app.pki.key_quality import check_key_quality
from app.pki.keys import PrivateKey
from app.pki.subject import SubjectFields, build_name
from app.pki.subject_keys import check_subject_key

MAX_CSR_BYTES: Final[int] = 64 * 1024

_CSR_LABELS: Final[frozenset[bytes]] = frozenset(
    {b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"}
)
# Markers only, paired up in one pass: a regex spanning BEGIN..END with a backreference
# rescans the rest of the input for every unmatched BEGIN, ~1.5 s of CPU for 64 KiB.
_PEM_MARKER_RE: Final[re.Pattern[bytes]] = re.compile(rb"-----(BEGIN|END) ([A-Z0-9 ]{1,64})-----")
_NOT_A_CSR: Final[str] = "This is not a PEM or DER certificate signing request."
_DAMAGED_PEM: Final[str] = (
    "The CSR's PEM text is damaged and cannot be decoded. Copy the whole block again, "
    "including the BEGIN and END lines."
)
# Subject attributes read from a CSR: OID -> (ParsedCSR.subject key, label for messages).
_SUBJECT_ATTRIBUTES: Final[dict[x509.ObjectIdentifier, tuple[str, str]]] = {
    NameOID.COMMON_NAME: ("common_name", "common name (CN)"),
    NameOID.ORGANIZATION_NAME: ("organization", "organization (O)"),
    NameOID.ORGANIZATIONAL_UNIT_NAME: ("organizational_unit", "organizational unit (OU)"),
    NameOID.COUNTRY_NAME: ("country", "country (C)"),
    NameOID.STATE_OR_PROVINCE_NAME: ("state", "state or province (ST)"),
    NameOID.LOCALITY_NAME: ("locality", "locality (L)"),
}
# Signature algorithms whose hash is broken: a CSR signed so is refused by name (the
# signature check alone would only say "does not verify").
_WEAK_SIGNATURES: Final[dict[x509.ObjectIdentifier, str]] = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "MD5",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "SHA-1",
    SignatureAlgorithmOID._RSA_WITH_SHA1: "SHA-1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "SHA-1",
    SignatureAlgorithmOID.DSA_WITH_SHA1: "SHA-1",
}
_OTHER_NAME_KINDS: Final[dict[type, str]] = {
    x509.UniformResourceIdentifier: "a URI",
    x509.DirectoryName: "a directory name",
    x509.RegisteredID: "a registered ID",
    x509.OtherName: "an otherName (such as a Windows UPN)",
}


@dataclass(frozen=True)
class ParsedCSR:
    """A CSR that passed :func:`parse_csr`: well-formed, self-signed, with an accepted key.

    ``subject`` holds only the attributes present, keyed like
    :class:`app.pki.subject.SubjectFields`; other attributes (emailAddress, serialNumber,
    ...) are ignored. Name tuples keep the request's order without repeats; DNS names and
    e-mail domains are lower-case, IPs in canonical text form. ``key_bits`` is the RSA
    modulus size or the curve size; ``curve`` the curve name (``"secp256r1"``) or
    ``None``. ``requests_ca`` is True when the request asks for basicConstraints
    cA=TRUE: it is reported, not refused, so callers must refuse it (the policy
    engine's CA-flag rule and the validation layer do). Nothing else the CSR requests
    (key usages, ...) is carried over: the issuing profile decides those.
    """

    pem: str
    subject: dict[str, str]
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    emails: tuple[str, ...]
    key_family: str
    key_bits: int
    curve: str | None
    requests_ca: bool
    public_key: Any


def parse_csr(data: bytes | str) -> ParsedCSR:
    """Parse and check a CSR given as PEM (text or bytes) or DER bytes.

    Accepts ``BEGIN CERTIFICATE REQUEST`` and ``BEGIN NEW CERTIFICATE REQUEST`` PEM
    blocks, with any text around the single block, or a bare DER request.

    Raises :class:`CSRTooLarge` for input over :data:`MAX_CSR_BYTES` before parsing
    anything; :class:`InvalidCSR` for data that is not a CSR (naming a certificate or
    private key pasted by mistake), damaged base64, several CSRs at once, a signature
    that does not verify, an unreadable subject or extensions, more than one of any
    subject attribute above (e.g. two CNs), or a requested alternative name other than
    DNS/IP/e-mail; :class:`WeakCSRSignature` for a CSR signed with SHA-1 or MD5;
    :class:`WeakKey` / :class:`UnsupportedKey` for keys outside RSA 2048-16384 and EC
    P-256/P-384/P-521, naming the key type or curve; :class:`BadKey` (a ``WeakKey``) for
    a key that can be broken (:mod:`app.pki.key_quality`).
    """
    der, from_pem = _to_der(data)
    try:
        csr = x509.load_der_x509_csr(der)
    except (ValueError, TypeError, x509.InvalidVersion):
        raise InvalidCSR(_DAMAGED_PEM if from_pem else _NOT_A_CSR) from None
    try:
        public_key = csr.public_key()
    except (ValueError, _CryptoUnsupported):
        raise UnsupportedKey(
            "The CSR uses a key type this platform cannot read; only RSA and "
            "elliptic-curve keys (P-256, P-384, P-521) are accepted."
        ) from None
    key_info = check_subject_key(public_key, "CSR")
    weak_hash = _WEAK_SIGNATURES.get(csr.signature_algorithm_oid)
    if weak_hash is not None:
        raise WeakCSRSignature(
            f"The CSR is signed with {weak_hash}, which is broken and no longer accepted; "
            "sign it with SHA-256 or stronger (for example: openssl req -new -sha256 ...)."
        )
    try:
        signature_ok = csr.is_signature_valid
    except (ValueError, _CryptoUnsupported):
        signature_ok = False
    if not signature_ok:
        raise InvalidCSR(
            "The CSR's signature does not verify: it was altered or signed with a "
            "different key."
        )
    check_key_quality(public_key, "CSR")
    dns_names, ip_addresses, emails, requests_ca = _requested_extensions(csr)
    return ParsedCSR(
        pem=csr.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        subject=_subject(csr.subject),
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        emails=emails,
        key_family=key_info.family,
        key_bits=key_info.bits,
        curve=key_info.curve,
        requests_ca=requests_ca,
        public_key=public_key,
    )


def _to_der(data: bytes | str) -> tuple[bytes, bool]:
    """Return the DER bytes to parse and whether they came out of a PEM block."""
    # Bound the size before encoding or scanning: a str of N characters is at least N
    # UTF-8 bytes, so checking len() first refuses huge text without copying it.
    if not isinstance(data, (bytes, str)):
        raise InvalidCSR(_NOT_A_CSR)
    if len(data) > MAX_CSR_BYTES:
        raise CSRTooLarge("The CSR is larger than 64 KiB.")
    if isinstance(data, str):
        raw = data.encode("utf-8", errors="replace")
        if len(raw) > MAX_CSR_BYTES:
            raise CSRTooLarge("The CSR is larger than 64 KiB.")
    else:
        raw = data
    if b"-----BEGIN" not in raw:
        return raw, False  # DER, or garbage the DER parser will refuse
    blocks = _pem_blocks(raw)
    requests = [body for label, body in blocks if label in _CSR_LABELS]
    if len(requests) > 1:
        raise InvalidCSR(
            "The text holds more than one certificate signing request; submit one at "
            "a time."
        )
    if not requests:
        raise InvalidCSR(_wrong_pem_message([label for label, _ in blocks]))
    try:
        return base64.b64decode(b"".join(requests[0].split()), validate=True), True
    except (binascii.Error, ValueError):
        raise InvalidCSR(_DAMAGED_PEM) from None


def _pem_blocks(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Return ``(label, body)`` of each complete PEM block, in linear time."""
    blocks: list[tuple[bytes, bytes]] = []
    opened: tuple[bytes, int] | None = None
    for marker in _PEM_MARKER_RE.finditer(raw):
        kind, label = marker.groups()
        if kind == b"BEGIN":
            opened = (label, marker.end())
        elif opened is not None and opened[0] == label:
            blocks.append((label, raw[opened[1] : marker.start()]))
            opened = None
    return blocks


def _wrong_pem_message(labels: list[bytes]) -> str:
    # Users often paste the wrong file of a key/CSR/certificate trio; say which it was.
    if any(label.endswith(b"PRIVATE KEY") for label in labels):
        return (
            "This is a private key, not a certificate signing request. Keep the private "
            "key secret and submit the CSR made from it instead."
        )
    if b"CERTIFICATE" in labels:
        return "This is a certificate, not a certificate signing request."
    return _NOT_A_CSR


def _subject(name: x509.Name) -> dict[str, str]:
    subject: dict[str, str] = {}
    try:
        for attribute in name:
            if attribute.oid not in _SUBJECT_ATTRIBUTES:
                continue
            key, label = _SUBJECT_ATTRIBUTES[attribute.oid]
            if key in subject:
                raise InvalidCSR(
                    f"The CSR's subject has more than one {label}; it must have at most one."
                )
            if not isinstance(attribute.value, str):
                raise InvalidCSR(f"The CSR's {label} is not text.")
            subject[key] = attribute.value
    except ValueError:
        raise InvalidCSR("The CSR's subject name cannot be read.") from None
    return subject


def _requested_extensions(
    csr: x509.CertificateSigningRequest,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]:
    try:
        extensions = csr.extensions
        basic = _find(extensions, x509.BasicConstraints)
        san = _find(extensions, x509.SubjectAlternativeName)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType):
        raise InvalidCSR(
            "The CSR's requested extensions are malformed, for example a subject "
            "alternative name that cannot be decoded."
        ) from None
    dns_names: list[str] = []
    ips: list[str] = []
    emails: list[str] = []
    for general_name in san or ():
        if isinstance(general_name, x509.DNSName):
            dns_names.append(general_name.value.lower())
        elif isinstance(general_name, x509.IPAddress):
            ips.append(str(general_name.value))
        elif isinstance(general_name, x509.RFC822Name):
            # Only the domain is case-insensitive; a mailbox's local part may not be.
            local, _, domain = general_name.value.rpartition("@")
            emails.append(f"{local}@{domain.lower()}" if local else domain.lower())
        else:
            kind = _OTHER_NAME_KINDS.get(type(general_name), "an unsupported name")
            raise InvalidCSR(
                f"The CSR requests {kind} as a subject alternative name; only DNS "
                "names, IP addresses and e-mail addresses can be certified."
            )
    requests_ca = bool(basic is not None and basic.ca)
    return _unique(dns_names), _unique(ips), _unique(emails), requests_ca


def _find(extensions: x509.Extensions, cls: type[Any]) -> Any:
    try:
        return extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def build_csr(
    private_key: PrivateKey,
    common_name: str,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    emails: Iterable[str] = (),
    digest: str = DEFAULT_DIGEST,
    subject: SubjectFields | None = None,
) -> x509.CertificateSigningRequest:
    """Build a CSR signed by ``private_key``, e.g. for a key the platform generated.

    The subject is ``subject`` (O/OU/C/ST/L) with its common name replaced by
    ``common_name``, or just the CN; names given go into a non-critical subjectAltName
    request, in order (none: no extension). The result passes :func:`parse_csr`.

    Raises :class:`InvalidSubject` for a bad common name, :class:`InvalidCSR` for an IP
    address that does not parse or a name that is not ASCII, :class:`WeakKey` /
    :class:`UnsupportedKey` for a key :func:`parse_csr` would refuse, and
    :class:`UnsupportedAlgorithm` for an unknown digest.
    """
    algorithm = hash_for(digest)
    check_subject_key(private_key.public_key(), "key")
    base = subject or SubjectFields(common_name)
    fields = SubjectFields(
        common_name, organization=base.organization,
        organizational_unit=base.organizational_unit, country=base.country,
        state=base.state, locality=base.locality,
    )
    try:
        names: list[x509.GeneralName] = [
            *(x509.DNSName(n) for n in dns_names),
            *(x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses),
            *(x509.RFC822Name(e) for e in emails),
        ]
    except ValueError as error:
        raise InvalidCSR(f"A subject alternative name is not valid: {error}") from None
    builder = x509.CertificateSigningRequestBuilder().subject_name(build_name(fields))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(private_key, algorithm)
