"""Serving revocation data (web side; no key): the newest stored CRL of a CA, a CA's
certificate for caIssuers, and the pre-signed OCSP response for a request.

OCSP answers (RFC 6960): the stored response for (issuing CA, serial); a serial or an
issuer the platform does not know, a CertID hash other than SHA-1, or a certificate with
no response signed yet gets the unsigned ``unauthorized``; a request that does not parse
gets ``malformedRequest``. Nothing here raises for a client's bytes."""
from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from cryptography import x509
from redis.exceptions import RedisError
from sqlalchemy import func, select
from werkzeug.http import http_date, quote_etag

from app.extensions import db
from app.models import CertificateAuthority, Crl, OcspResponse
from app.pki.encoding import certificate_to_der
from app.pki.ocsp import OcspQuestion, issuer_hashes, read_request, unsigned_response
from app.services import ocsp_cache
from app.services.errors import NotFound
from app.services.lookup import by_uuid

log = logging.getLogger(__name__)

ISSUER_CACHE_SECONDS = 30.0
MAX_OCSP_REQUEST = 8192      # a one-certificate request is about 100 bytes


@dataclass(frozen=True)
class Published:
    body: bytes
    this_update: datetime | None = None
    next_update: datetime | None = None

    def cache_headers(self, filename: str | None = None) -> dict[str, str]:
        """HTTP caching for relying parties and caches in between: cacheable until the
        data's nextUpdate (RFC 5019 section 6), with Last-Modified and an ETag."""
        now = datetime.now(UTC)
        if self.next_update is not None and self.next_update > now:
            headers = {"Cache-Control": "public, max-age="
                       f"{int((self.next_update - now).total_seconds())}, no-transform",
                       "Expires": http_date(self.next_update)}
            if self.this_update is not None:
                headers["Last-Modified"] = http_date(self.this_update)
            headers["ETag"] = quote_etag(hashlib.sha256(self.body).hexdigest()[:32])
        elif self.next_update is None and filename is not None:
            headers = {"Cache-Control": "public, max-age=3600"}
        else:
            headers = {"Cache-Control": "no-cache"}
        if filename:
            headers["Content-Disposition"] = f'inline; filename="{filename}"'
        return headers


def latest_crl(ca_id: str, *, pem: bool = False) -> Published:
    ca = by_uuid(CertificateAuthority, ca_id)
    crl = db.session.scalar(select(Crl).where(Crl.ca_id == ca.id).order_by(
        Crl.number.desc()).limit(1)) if ca is not None else None
    if crl is None:
        raise NotFound("No CRL for this CA.", code="crl.not_found")
    body = crl.der if not pem else (b"-----BEGIN X509 CRL-----\n"
                                    + base64.encodebytes(crl.der)
                                    + b"-----END X509 CRL-----\n")
    return Published(body, crl.this_update, crl.next_update)


def ca_certificate_der(ca_id: str) -> Published:
    ca = by_uuid(CertificateAuthority, ca_id)
    if ca is None or not ca.certificate_pem:
        raise NotFound("No such CA.", code="ca.not_found")
    return Published(certificate_to_der(x509.load_pem_x509_certificate(
        ca.certificate_pem.encode())))


class _IssuerIndex:
    """(issuerNameHash, issuerKeyHash) → CA id, rebuilt every 30 s at most, and at once when
    a request names an issuer it does not know while the set of CAs with a certificate has
    changed (one small aggregate query decides, so unknown issuers cannot force rebuilds)."""

    def __init__(self) -> None:
        self.built_at = -ISSUER_CACHE_SECONDS
        self.version: tuple[int, object] | None = None
        self.by_hashes: dict[tuple[bytes, bytes], uuid.UUID] = {}

    def find(self, name_hash: bytes, key_hash: bytes) -> uuid.UUID | None:
        if time.monotonic() - self.built_at >= ISSUER_CACHE_SECONDS or (
                (name_hash, key_hash) not in self.by_hashes
                and self._current_version() != self.version):
            self._build()
        return self.by_hashes.get((name_hash, key_hash))

    def peek(self, name_hash: bytes, key_hash: bytes) -> uuid.UUID | None:
        """The CA for these hashes from the index as built, without touching the database;
        None when the index is stale or does not know them (then :meth:`find` decides)."""
        if time.monotonic() - self.built_at >= ISSUER_CACHE_SECONDS:
            return None
        return self.by_hashes.get((name_hash, key_hash))

    @staticmethod
    def _current_version() -> tuple[int, object]:
        count, newest = db.session.execute(select(
            func.count(CertificateAuthority.id), func.max(CertificateAuthority.created_at))
            .where(CertificateAuthority.certificate_pem.is_not(None))).one()
        return int(count), newest

    def _build(self) -> None:
        version = self._current_version()
        found = {}
        for ca_id, pem in db.session.execute(select(
                CertificateAuthority.id, CertificateAuthority.certificate_pem).where(
                CertificateAuthority.certificate_pem.is_not(None))):
            found[issuer_hashes(x509.load_pem_x509_certificate(pem.encode()))] = ca_id
        self.by_hashes = found
        self.version = version
        self.built_at = time.monotonic()


_issuers = _IssuerIndex()


def decode_get_path(encoded: str) -> bytes:
    """RFC 6960 A.1: the DER request, base64, URL-encoded, after the responder's URL;
    b"" for anything that does not decode (answered malformedRequest)."""
    try:
        raw = unquote(encoded)
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return b""


def cached_ocsp_answer(der: bytes, redis_url: str) -> Published | None:
    """The fast path's answer (``web/ocsp_fast_path.py``): the response the worker cached
    in Redis, only for a well-formed SHA-1 request about an issuer the index knows now;
    None for anything else (the database path then answers, as :func:`ocsp_answer`)."""
    question = _question(der)
    if question is None or question.hash_name != "sha1":
        return None
    ca_id = _issuers.peek(question.name_hash, question.key_hash)
    if ca_id is None:
        return None
    try:
        value = ocsp_cache.client(redis_url).get(
            ocsp_cache.key(ca_id, format(question.serial, "x")))
    except RedisError as exc:
        log.warning("ocsp fast path: Redis unavailable (%s); answering from the database",
                    type(exc).__name__)
        return None
    if value is None:
        return None
    cached = ocsp_cache.unpack(value)
    return Published(cached.der, cached.this_update, cached.next_update)


def _question(der: bytes) -> OcspQuestion | None:
    """The parsed request, or None for bytes that are not one (empty, over 8 KiB, not a
    request): answered ``malformedRequest`` by the database path."""
    if not der or len(der) > MAX_OCSP_REQUEST:
        return None
    try:
        return read_request(der)
    except Exception:   # cryptography raises ValueError and friends for odd bytes
        return None


def ocsp_answer(der: bytes) -> Published:
    """The DER response for an OCSP request (never raises for the client's bytes)."""
    question = _question(der)
    if question is None:
        return Published(unsigned_response("malformedRequest"))
    if question.hash_name != "sha1":
        return Published(unsigned_response("unauthorized"))
    ca_id = _issuers.find(question.name_hash, question.key_hash)
    if ca_id is None:
        return Published(unsigned_response("unauthorized"))
    row = db.session.execute(select(
        OcspResponse.der, OcspResponse.this_update, OcspResponse.next_update).where(
        OcspResponse.issuer_ca_id == ca_id,
        OcspResponse.serial_hex == format(question.serial, "x"))).first()
    if row is None:
        return Published(unsigned_response("unauthorized"))
    return Published(row.der, row.this_update, row.next_update)
