"""Signing revocation data (worker only: it decrypts CA keys). CRLs per issuing CA and
pre-signed OCSP responses per certificate, stored for the web to serve as they are
(``services/revocation_serving.py``).

- ``issue_crl(ca_id)``: a new CRL now (after a revocation, for a new CA).
- ``refresh_crls()``: the ``crl-refresh`` task — a CA without a CRL, past its CRL's
  half-life, or with a revocation newer than its CRL gets a new one.
- ``sign_certificate_ocsp`` / ``sign_intermediate_ocsp``: one response now (after issuance
  or revocation).
- ``refresh_ocsp()``: the ``ocsp-refresh`` task — every unexpired certificate without a
  response, past its response's half-life, or whose status changed, in batches.

Leaves are answered for by their intermediate; intermediates by their root, whose
answers live ``ROOT_NEXT_UPDATE_DAYS`` (default 365) so an exported, offline root's
last answers stay valid. A CA whose key is not on the platform signs nothing."""
from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from flask import current_app
from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import Certificate, CertificateAuthority, Crl, OcspResponse
from app.models.base import utcnow
from app.models.pki import CA_ACTIVE, CA_REVOKED
from app.pki.crl import RevokedEntry, build_crl
from app.pki.encoding import crl_to_der
from app.pki.keys import load_private_key_pem
from app.pki.ocsp import GOOD, REVOKED, OcspSigner, sign_ocsp_response, signer_for
from app.services import ocsp_cache
from app.services.key_bindings import ca_key_binding
from app.services.keyring import load_keyring

log = logging.getLogger(__name__)

KEEP_CRLS = 3          # older CRLs of a CA are deleted; the web serves the newest
OCSP_BATCH = 2000


# ---- who signs --------------------------------------------------------------------------

def _can_publish(ca: CertificateAuthority | None) -> bool:
    """A CA signs revocation data while its key is on the platform and it is active (a
    revoked intermediate's own leaves are moot: its chain no longer validates)."""
    return ca is not None and ca.status == CA_ACTIVE and ca.has_key \
        and ca.certificate_pem is not None and not ca.is_expired


def _lifetime(ca: CertificateAuthority, setting: str) -> timedelta:
    days = current_app.config["ROOT_NEXT_UPDATE_DAYS" if ca.is_root else setting]
    return timedelta(days=float(days))


@dataclass(frozen=True)
class _Signing:
    ca: CertificateAuthority
    certificate: x509.Certificate
    key: Any


def _signing(ca: CertificateAuthority) -> _Signing:
    key = load_private_key_pem(load_keyring().decrypt(ca.encrypted_private_key or "",
                                                      ca_key_binding(ca.id)))
    return _Signing(ca, x509.load_pem_x509_certificate((ca.certificate_pem or "").encode()),
                    key)


def _now() -> datetime:
    return utcnow().replace(microsecond=0)


# ---- CRLs -------------------------------------------------------------------------------

def _revoked_entries(ca: CertificateAuthority, now: datetime) -> list[RevokedEntry]:
    if ca.is_root:
        rows = db.session.execute(select(
            CertificateAuthority.serial_hex, CertificateAuthority.revoked_at,
            CertificateAuthority.revocation_reason).where(
            CertificateAuthority.parent_id == ca.id, CertificateAuthority.status == CA_REVOKED,
            CertificateAuthority.not_after > now))
    else:
        rows = db.session.execute(select(
            Certificate.serial_hex, Certificate.revoked_at, Certificate.revocation_reason)
            .where(Certificate.issuer_ca_id == ca.id, Certificate.revoked.is_(True),
                   Certificate.not_after > now))
    return [RevokedEntry(int(serial, 16), revoked_at, reason or "unspecified")
            for serial, revoked_at, reason in rows if serial and revoked_at]


def latest_crl(ca_id: uuid.UUID) -> Crl | None:
    return db.session.scalar(select(Crl).where(Crl.ca_id == ca_id)
                             .order_by(Crl.number.desc()).limit(1))


def issue_crl(ca_id: str) -> str:
    """Sign and store a new CRL of CA ``ca_id`` now (safe to run twice: a second run only
    adds a CRL with the next number)."""
    ca = db.session.get(CertificateAuthority, uuid.UUID(str(ca_id)))
    if not _can_publish(ca):
        return "skipped"
    assert ca is not None
    return _issue_crl(ca)


def _issue_crl(ca: CertificateAuthority) -> str:
    signing = _signing(ca)
    now = _now()
    previous = latest_crl(ca.id)
    number = (previous.number + 1) if previous else 1
    entries = _revoked_entries(ca, now)
    crl = build_crl(signing.certificate, signing.key, ca.digest, entries, number, now,
                    now + _lifetime(ca, "CRL_NEXT_UPDATE_DAYS"))
    db.session.add(Crl(ca_id=ca.id, number=number, this_update=now,
                       next_update=crl.next_update_utc, entries=len(entries),
                       der=crl_to_der(crl)))
    db.session.flush()
    stale = select(Crl.id).where(Crl.ca_id == ca.id).order_by(Crl.number.desc()) \
        .offset(KEEP_CRLS)
    db.session.execute(delete(Crl).where(Crl.id.in_(list(db.session.scalars(stale)))))
    db.session.commit()
    return f"crl {number}"


def _crl_due(ca: CertificateAuthority, now: datetime) -> bool:
    crl = latest_crl(ca.id)
    if crl is None:
        return True
    if now >= crl.this_update + (crl.next_update - crl.this_update) / 2:
        return True
    if ca.is_root:
        newest = db.session.scalar(select(func.max(CertificateAuthority.revoked_at)).where(
            CertificateAuthority.parent_id == ca.id))
    else:
        newest = db.session.scalar(select(func.max(Certificate.revoked_at)).where(
            Certificate.issuer_ca_id == ca.id))
    return newest is not None and newest >= crl.this_update


def refresh_crls() -> dict[str, Any]:
    """The ``crl-refresh`` task."""
    now = _now()
    issued = []
    for ca in db.session.scalars(select(CertificateAuthority).where(
            CertificateAuthority.status == CA_ACTIVE)):
        if _can_publish(ca) and _crl_due(ca, now):
            _issue_crl(ca)
            issued.append(ca.common_name)
    return {"crls_issued": issued}


# ---- OCSP -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Subject:
    serial_hex: str
    revoked: bool
    revoked_at: datetime | None
    reason: str | None


def _upsert(rows: list[dict[str, Any]]) -> None:
    """Insert or replace the rows' answers. One statement, executed for many parameter
    sets: its SQL is compiled once per process (a multi-row ``VALUES`` of the rows
    themselves compiled anew for every batch: ~60 % of the upsert's time)."""
    if rows:
        db.session.execute(_upsert_statement(db.engine.dialect.name), rows)


@functools.cache
def _upsert_statement(dialect: str) -> Any:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(OcspResponse.__table__)
    return statement.on_conflict_do_update(
        index_elements=["issuer_ca_id", "serial_hex"],
        set_={k: statement.excluded[k] for k in ("cert_status", "this_update",
                                                 "next_update", "der")})


@dataclass(frozen=True)
class _Shape:
    """What an OCSP response's lint depends on: the responder (CA and certificate), the
    validity (nextUpdate - thisUpdate), the status and whether a reason is given."""
    ca_id: uuid.UUID
    responder: bytes
    lifetime: timedelta
    status: str
    with_reason: bool


#: Lint before signing, once per shape and ``LINT_SHAPE_SECONDS``: responses of one shape
#: differ only in the serial number and the times (thisUpdate, revocation time), which no
#: lint rule judges beyond the validity the shape holds. Linting every response (a pkilint
#: run, ~5 ms) capped signing at ~1,100/s and cost every issuance 5 ms. A shape linted
#: with findings raises before it is remembered, so it is linted again next time.
LINT_SHAPE_SECONDS = 600.0
_linted: dict[_Shape, float] = {}


def _lint_due(shape: _Shape) -> bool:
    seen = _linted.get(shape)
    return seen is None or time.monotonic() - seen >= LINT_SHAPE_SECONDS


def forget_linted_shapes() -> None:
    """Lint every shape again from now (tests; a changed lint allow-list)."""
    _linted.clear()


def _sign_batch(signing: _Signing, signer: OcspSigner, subjects: Iterable[_Subject],
                now: datetime) -> int:
    next_update = now + _lifetime(signing.ca, "OCSP_NEXT_UPDATE_DAYS")
    subjects = list(subjects)
    rows = []
    ca_id = signing.ca.id       # read once: the commit below expires the row
    responder = signer.certificate.fingerprint(hashes.SHA256())
    for subject in subjects:
        status = REVOKED if subject.revoked else GOOD
        shape = _Shape(ca_id, responder, next_update - now, status,
                       bool(subject.revoked and subject.reason
                            and subject.reason != "unspecified"))
        der = sign_ocsp_response(signer, int(subject.serial_hex, 16), status, now,
                                 next_update, subject.revoked_at, subject.reason,
                                 lint=_lint_due(shape))
        _linted[shape] = time.monotonic()
        rows.append({"issuer_ca_id": ca_id, "serial_hex": subject.serial_hex,
                     "cert_status": status, "this_update": now, "next_update": next_update,
                     "der": der})
    _upsert(rows)
    # A cached ``good`` must not outlive a revocation: gone before the commit.
    ocsp_cache.forget(ca_id, [s.serial_hex for s in subjects if s.revoked])
    db.session.commit()
    ocsp_cache.store(ca_id, [(r["serial_hex"], r["der"], now, next_update) for r in rows])
    return len(rows)


def sign_certificate_ocsp(certificate_id: str) -> str:
    """Sign (again) the OCSP response of one Local PKI certificate now."""
    cert = db.session.get(Certificate, uuid.UUID(str(certificate_id)))
    if cert is None or cert.issuer_ca_id is None:
        return "skipped"
    ca = db.session.get(CertificateAuthority, cert.issuer_ca_id)
    if not _can_publish(ca):
        return "skipped"
    assert ca is not None
    signing = _signing(ca)
    signer = signer_for(signing.certificate, signing.key, ca.digest)
    _sign_batch(signing, signer, [_Subject(cert.serial_hex, cert.revoked, cert.revoked_at,
                                           cert.revocation_reason)], _now())
    return "signed"


def sign_new_certificates_ocsp(ca_id: uuid.UUID, serials: Sequence[str]) -> int:
    """The ``good`` answers of certificates ``ca_id`` has just issued, signed as one batch
    (one key opening, one multi-row upsert, one commit): the batch issuance job's
    :func:`sign_certificate_ocsp`. Returns how many were signed (0 when the CA does not
    publish)."""
    ca = db.session.get(CertificateAuthority, ca_id)
    if not serials or not _can_publish(ca):
        return 0
    assert ca is not None
    signing = _signing(ca)
    signer = signer_for(signing.certificate, signing.key, ca.digest)
    return _sign_batch(signing, signer, [_Subject(serial, False, None, None)
                                         for serial in serials], _now())


def sign_intermediate_ocsp(ca_id: str) -> str:
    """Sign (again) the root's OCSP response about intermediate ``ca_id`` now."""
    ca = db.session.get(CertificateAuthority, uuid.UUID(str(ca_id)))
    if ca is None or ca.parent is None or not ca.serial_hex:
        return "skipped"
    root = ca.parent
    if not _can_publish(root):
        return "skipped"
    signing = _signing(root)
    signer = signer_for(signing.certificate, signing.key, root.digest)
    _sign_batch(signing, signer, [_Subject(ca.serial_hex, ca.status == CA_REVOKED,
                                           ca.revoked_at, ca.revocation_reason)], _now())
    return "signed"


def _due_subjects(ca: CertificateAuthority, now: datetime) -> Iterator[list[_Subject]]:
    """Batches of what ``ca`` must (re-)sign: no response yet, past half-life, or a
    status that changed. Keyset-paged by serial."""
    lifetime = _lifetime(ca, "OCSP_NEXT_UPDATE_DAYS")
    half_due = now + lifetime / 2   # next_update earlier than this: past half-life
    if ca.is_root:
        source = (CertificateAuthority.serial_hex, CertificateAuthority.status == CA_REVOKED,
                  CertificateAuthority.revoked_at, CertificateAuthority.revocation_reason)
        where = [CertificateAuthority.parent_id == ca.id,
                 CertificateAuthority.serial_hex.is_not(None),
                 CertificateAuthority.status.in_((CA_ACTIVE, CA_REVOKED)),
                 CertificateAuthority.not_after > now]
        serial = CertificateAuthority.serial_hex
        revoked = CertificateAuthority.status == CA_REVOKED
    else:
        source = (Certificate.serial_hex, Certificate.revoked, Certificate.revoked_at,
                  Certificate.revocation_reason)
        where = [Certificate.issuer_ca_id == ca.id, Certificate.not_after > now]
        serial = Certificate.serial_hex
        revoked = Certificate.revoked.is_(True)
    join = and_(OcspResponse.issuer_ca_id == ca.id, OcspResponse.serial_hex == serial)
    stale = or_(OcspResponse.id.is_(None), OcspResponse.next_update < half_due,
                and_(revoked, OcspResponse.cert_status != REVOKED))
    after = ""
    while True:
        query = (select(*source).outerjoin(OcspResponse, join).where(*where, stale,
                                                                     serial > after)
                 .order_by(serial).limit(OCSP_BATCH))
        batch = [_Subject(s, bool(r), at, reason) for s, r, at, reason
                 in db.session.execute(query)]
        if not batch:
            return
        yield batch
        after = batch[-1].serial_hex


def refresh_ocsp() -> dict[str, Any]:
    """The ``ocsp-refresh`` task: returns how many responses each CA signed."""
    now = _now()
    signed: dict[str, int] = {}
    for ca in list(db.session.scalars(select(CertificateAuthority).where(
            CertificateAuthority.status == CA_ACTIVE))):
        if not _can_publish(ca):
            continue
        signing = _signing(ca)
        signer = signer_for(signing.certificate, signing.key, ca.digest)
        for batch in _due_subjects(ca, now):
            signed[ca.common_name] = signed.get(ca.common_name, 0) + _sign_batch(
                signing, signer, batch, now)
    # Responses for certificates that expired long ago are of no use to anyone.
    db.session.execute(delete(OcspResponse).where(
        OcspResponse.next_update < now - timedelta(days=30)))
    db.session.commit()
    return {"ocsp_signed": signed}

