"""Reading certificates someone hands us (an upload, a TLS server's chain): PEM with one
or many blocks, DER, PKCS#7 (PEM or DER). Pure: no database, no network.

Certificates only: anything holding a private key is refused as a whole (``KeyInUpload``),
so the caller stores nothing of it. Each PEM block that is not a readable certificate is
reported on its own (``Unreadable``) rather than failing the others."""
from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    load_der_private_key,
    pkcs7,
    pkcs12,
)
from cryptography.x509.oid import NameOID

from app.pki.encoding import certificate_to_pem, fingerprint_sha256
from app.pki.errors import PkiError

MAX_CERTIFICATES = 500

_PEM_BLOCK = re.compile(
    rb"-----BEGIN ([A-Z0-9 #]+)-----\r?\n?(.*?)-----END \1-----", re.DOTALL)


class KeyInUpload(PkiError):
    """The input holds a private key: it is refused whole, nothing of it is kept."""


class NotCertificates(PkiError):
    """The input is not PEM, DER or PKCS#7 certificates."""


@dataclass(frozen=True)
class Unreadable:
    """One part of the input that could not be read as a certificate, and why."""

    label: str
    reason: str


Item = x509.Certificate | Unreadable


def _refuse_key(what: str) -> KeyInUpload:
    return KeyInUpload(f"The upload holds a private key ({what}). Upload certificates "
                       "only: nothing of this upload was stored. Keep private keys on the "
                       "server that uses them.")


def parse_certificates(data: bytes) -> list[Item]:
    """The certificates in ``data`` in order, with an ``Unreadable`` for each PEM block that
    is not one. Raises ``KeyInUpload`` if any private key is present and ``NotCertificates``
    if nothing in it is a certificate encoding at all."""
    if b"-----BEGIN" in data:
        return _parse_pem(data)
    return _parse_der(data)


def _parse_pem(data: bytes) -> list[Item]:
    blocks = list(_PEM_BLOCK.finditer(data))
    if b"PRIVATE KEY-----" in data:
        label = next((b[1].decode() for b in blocks if b"PRIVATE KEY" in b[1]),
                     "PRIVATE KEY")
        raise _refuse_key(f"a '{label}' block")
    if not blocks:
        raise NotCertificates("The PEM text has no complete '-----BEGIN …-----' / "
                              "'-----END …-----' block.")
    items: list[Item] = []
    for block in blocks:
        label = block[1].decode()
        if label in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
            items.append(_pem_certificate(block[0], label))
        elif label in ("PKCS7", "CMS"):
            items.extend(_pkcs7(block[0], pem=True, label=label))
        else:
            items.append(Unreadable(label, f"a '{label}' block is not a certificate"))
    return items


def _pem_certificate(block: bytes, label: str) -> Item:
    try:
        if label != "CERTIFICATE":
            body = b"".join(block.splitlines()[1:-1])
            return x509.load_der_x509_certificate(base64.b64decode(body))
        return x509.load_pem_x509_certificate(block)
    except (ValueError, TypeError, binascii.Error):
        return Unreadable(label, "the certificate block is damaged and cannot be read")


def _pkcs7(data: bytes, *, pem: bool, label: str = "PKCS7") -> list[Item]:
    try:
        certs = (pkcs7.load_pem_pkcs7_certificates(data) if pem
                 else pkcs7.load_der_pkcs7_certificates(data))
    except (ValueError, TypeError):
        return [Unreadable(label, "the PKCS#7 structure is damaged or holds no certificates")]
    return list(certs)


def _parse_der(data: bytes) -> list[Item]:
    if not data.strip():
        raise NotCertificates("The upload is empty.")
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        pass
    try:
        return list(pkcs7.load_der_pkcs7_certificates(data))
    except ValueError:
        pass
    if _is_der_private_key(data):
        raise _refuse_key("a DER-encoded key")
    if _is_pkcs12(data):
        raise _refuse_key("a PKCS#12 / PFX file, which carries the key with the certificate")
    raise NotCertificates("The file is not a certificate: expected PEM text "
                          "('-----BEGIN CERTIFICATE-----'), a DER certificate or a PKCS#7 "
                          "(.p7b) bundle.")


def _is_der_private_key(data: bytes) -> bool:
    try:
        load_der_private_key(data, password=None)
    except TypeError:
        return True              # an encrypted key: still a key
    except Exception:  # any other parse failure: not a key
        return False
    return True


def _is_pkcs12(data: bytes) -> bool:
    try:
        pkcs12.load_pkcs12(data, None)
    except ValueError as exc:
        # A password-protected PFX fails to decrypt, but it is still a PFX.
        return "password" in str(exc).lower() or "mac" in str(exc).lower()
    except Exception:  # not PKCS#12 at all
        return False
    return True


# ---- what a certificate says about itself ------------------------------------------------

@dataclass(frozen=True)
class CertificateFacts:
    common_name: str
    sans: list[str]
    subject: dict[str, str]          # organization, organizational_unit, country, …
    issuer_dn: str
    issuer_name: str                 # the issuing CA's organisation, else its CN
    algorithm: str                   # rsa-2048, ec-256, ed25519 …
    digest: str
    serial_hex: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime
    is_ca: bool
    pem: str


_SUBJECT_OIDS = {"organization": NameOID.ORGANIZATION_NAME,
                 "organizational_unit": NameOID.ORGANIZATIONAL_UNIT_NAME,
                 "country": NameOID.COUNTRY_NAME, "state": NameOID.STATE_OR_PROVINCE_NAME,
                 "locality": NameOID.LOCALITY_NAME}


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    value = values[0].value if values else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _sans(cert: x509.Certificate) -> list[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [*ext.get_values_for_type(x509.DNSName),
            *(str(ip) for ip in ext.get_values_for_type(x509.IPAddress)),
            *ext.get_values_for_type(x509.RFC822Name)]


def key_algorithm(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ec-{key.curve.key_size}"
    if isinstance(key, dsa.DSAPublicKey):
        return f"dsa-{key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448"
    return "unknown"


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def facts(cert: x509.Certificate) -> CertificateFacts:
    sans = _sans(cert)
    digest = cert.signature_hash_algorithm
    return CertificateFacts(
        common_name=(_first(cert.subject, NameOID.COMMON_NAME) or (sans[0] if sans else "")
                     )[:253],
        sans=sans, subject={k: _first(cert.subject, oid) for k, oid in _SUBJECT_OIDS.items()},
        issuer_dn=cert.issuer.rfc4514_string(),
        issuer_name=(_first(cert.issuer, NameOID.ORGANIZATION_NAME)
                     or _first(cert.issuer, NameOID.COMMON_NAME) or "Unknown issuer")[:100],
        algorithm=key_algorithm(cert), digest=digest.name if digest is not None else "none",
        serial_hex=format(cert.serial_number, "x"), fingerprint_sha256=fingerprint_sha256(cert),
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        is_ca=_is_ca(cert), pem=certificate_to_pem(cert).decode())


# ---- chains ------------------------------------------------------------------------------

def issued(child: x509.Certificate, issuer: x509.Certificate) -> bool:
    if child.issuer != issuer.subject:
        return False
    try:
        child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def chain_for(leaf: x509.Certificate, pool: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """The certificates of ``pool`` that link up from ``leaf`` (issuer first), as far as
    they go; a self-signed certificate ends the chain."""
    chain: list[x509.Certificate] = []
    current = leaf
    while not issued(current, current) and len(chain) < 10:
        parent = next((c for c in pool if c is not current and c not in chain
                       and issued(current, c)), None)
        if parent is None:
            break
        chain.append(parent)
        current = parent
    return chain


def issuers_in(pool: Sequence[x509.Certificate]) -> set[int]:
    """Indexes of the certificates in ``pool`` that issued another one of ``pool``."""
    return {j for i, child in enumerate(pool) for j, parent in enumerate(pool)
            if i != j and not issued(child, child) and issued(child, parent)}
