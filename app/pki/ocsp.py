"""OCSP (RFC 6960): pre-signing responses with the issuing CA's own key, and reading
requests.

``sign_ocsp_response`` is the one place a response is built and signed (a
lint-before-signing step belongs here). Responses are signed directly by the CA that
issued the certificate (no delegated responder), identify the responder by key hash, and
name the certificate by a SHA-1 CertID — the hash every client sends and the one RFC 5019
(the lightweight profile Let's Encrypt serves) requires. No nonce: responses are signed
ahead of time."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from app.pki.algorithms import hash_for
from app.pki.keys import PrivateKey
from app.pki.lint import lint_ocsp_before_signing
from app.pki.revocation_reasons import FLAGS

GOOD: Final[str] = "good"
REVOKED: Final[str] = "revoked"


@dataclass(frozen=True)
class OcspSigner:
    """An issuing CA ready to sign responses for the certificates it issued."""

    certificate: x509.Certificate
    private_key: PrivateKey
    digest: str
    name_hash: bytes
    key_hash: bytes


def issuer_hashes(certificate: x509.Certificate) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of a CA certificate, SHA-1 (RFC 6960 4.1.1)."""
    name_hash = hashlib.sha1(certificate.subject.public_bytes(), usedforsecurity=False).digest()
    key_hash = x509.SubjectKeyIdentifier.from_public_key(
        certificate.public_key()).digest  # type: ignore[arg-type]  # SHA-1 of the key bits
    return name_hash, key_hash


def signer_for(certificate: x509.Certificate, private_key: PrivateKey, digest: str
               ) -> OcspSigner:
    name_hash, key_hash = issuer_hashes(certificate)
    return OcspSigner(certificate, private_key, digest, name_hash, key_hash)


def sign_ocsp_response(signer: OcspSigner, serial: int, status: str, this_update: datetime,
                       next_update: datetime, revoked_at: datetime | None = None,
                       reason: str | None = None, *, lint: bool = True) -> bytes:
    """A signed, successful response (DER) about ``serial``: ``good`` or ``revoked`` (with
    the time and, unless ``unspecified``, the reason). ``lint=False``: the caller has
    linted a response of the same shape (see ``revocation_publishing._sign_batch``)."""
    revoked = status == REVOKED

    def builder_for(responder: x509.Certificate) -> ocsp.OCSPResponseBuilder:
        return ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=signer.name_hash, issuer_key_hash=signer.key_hash,
            serial_number=serial, algorithm=hashes.SHA1(),  # noqa: S303 (the CertID hash, RFC 5019)
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=this_update, next_update=next_update,
            revocation_time=revoked_at if revoked else None,
            revocation_reason=FLAGS[reason] if revoked and reason and reason != "unspecified"
            else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, responder)

    # lint_ocsp_response on a throwaway signature first (LintRefused: the key signs nothing)
    if lint:
        lint_ocsp_before_signing(builder_for, signer.certificate, signer.private_key,
                                 signer.digest)
    response = builder_for(signer.certificate).sign(signer.private_key,
                                                    hash_for(signer.digest))
    return response.public_bytes(serialization.Encoding.DER)


def unsigned_response(status: str) -> bytes:
    """An unsuccessful response: ``malformedRequest``, ``unauthorized``, ``internalError``,
    ``tryLater`` (RFC 6960 2.3; these are never signed)."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(
        ocsp.OCSPResponseStatus[_STATUS[status]]).public_bytes(serialization.Encoding.DER)


_STATUS: Final[dict[str, str]] = {"malformedRequest": "MALFORMED_REQUEST",
                                  "unauthorized": "UNAUTHORIZED",
                                  "internalError": "INTERNAL_ERROR", "tryLater": "TRY_LATER"}


@dataclass(frozen=True)
class OcspQuestion:
    name_hash: bytes
    key_hash: bytes
    serial: int
    hash_name: str        # of the CertID: "sha1" is the one answered


def read_request(der: bytes) -> OcspQuestion:
    """The one CertID asked about; ValueError for anything cryptography cannot read
    (including several requests in one)."""
    request = ocsp.load_der_ocsp_request(der)
    return OcspQuestion(request.issuer_name_hash, request.issuer_key_hash,
                        request.serial_number, request.hash_algorithm.name)
