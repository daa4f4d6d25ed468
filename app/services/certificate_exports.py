"""Private key exports of inventory certificates, on the web side: validate, record,
enqueue, show progress and hand the file out once. The same shape as the CA key export
(``app/services/pki.py``): the worker (``services/key_exports.py``) is the only place that
decrypts the key; the passphrase travels to it sealed (``app/services/sealed.py``).

There is no sweeper for exports: a request whose job never reached a worker (Redis down
at request time, the job lost, or the sealed passphrase expired after an hour) stays
``pending`` and its page says so; the user simply requests a new export."""
from __future__ import annotations

import base64
import uuid

from sqlalchemy import update

from app.domain.roles import Permission
from app.extensions import db
from app.jobs.enqueue import enqueue
from app.jobs.queue import LIVE_JOB_STATES, job_state
from app.models import Certificate, CertificateExport, User
from app.models.base import utcnow
from app.pki.export import MIN_PASSPHRASE_LENGTH
from app.services import audit, sealed
from app.services.certificates import safe_filename
from app.services.errors import Conflict, NotFound, QueueUnavailable, ValidationFailed
from app.services.lookup import by_uuid

EXPORT_FORMATS = {"pkcs8": "Encrypted PKCS#8 private key (PEM)",
                  "pkcs12": "PKCS#12 / PFX with key, certificate and chain"}
NO_KEY_MESSAGE = ("The key was generated outside the platform (CSR), so there is no key "
                  "to download.")
PENDING, READY, FAILED, DOWNLOADED = "pending", "ready", "failed", "downloaded"


def job_id(export_id: uuid.UUID | str) -> str:
    return f"certexport-{export_id}"


def may_export_key(cert: Certificate, user: User) -> bool:
    """Seeing a certificate is not enough to take its key: the owner may, and PKI admins
    (who run the CA) may; other admin roles only see the public parts."""
    return cert.owner_user_id == user.id or user.can(Permission.MANAGE_PKI)


def request_export(cert: Certificate, fmt: str, passphrase: str, *,
                   actor: User) -> CertificateExport:
    """Record a pending export and hand it to the worker. Bad input raises
    ValidationFailed and writes nothing; if the queue is unreachable the row is kept
    (pending) and QueueUnavailable is raised naming it."""
    if not cert.has_key:
        raise ValidationFailed(NO_KEY_MESSAGE, code="export.no_key")
    if not may_export_key(cert, actor):
        raise ValidationFailed("Only the certificate's owner or a PKI administrator may "
                               "export its private key.", code="export.forbidden")
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed("Choose the export format: encrypted PKCS#8 (pkcs8) or "
                               "PKCS#12 (pkcs12).", code="export.format", field="format")
    if len(passphrase or "") < MIN_PASSPHRASE_LENGTH:
        raise ValidationFailed(
            f"Passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters.",
            code="export.passphrase_short", field="passphrase")
    export = CertificateExport(certificate_id=cert.id, user_id=actor.id, format=fmt,
                               status=PENDING)
    db.session.add(export)
    db.session.flush()
    audit.record("certificate.key_export.request", resource_type="certificate",
                 resource_id=cert.id, actor=actor,
                 details={"common_name": cert.common_name, "format": fmt,
                          "export_id": str(export.id)})
    db.session.commit()
    if not enqueue("export_certificate_key", job_id(export.id), str(export.id),
                   sealed.seal(passphrase),
                   description=f"export key of certificate {cert.id}"):
        raise QueueUnavailable(
            "The export was recorded, but the job queue cannot be reached, so no worker "
            "will prepare it. Please request the export again in a moment.",
            resource_id=str(export.id))
    return export


def get_export_for(export_id: str, actor: User) -> CertificateExport:
    """Only the user who requested an export may see it (admins included): NotFound else."""
    export = by_uuid(CertificateExport, export_id)
    if export is None or export.user_id != actor.id:
        raise NotFound("No such export.", code="export.not_found")
    return export


def stalled_reason(export: CertificateExport) -> str | None:
    """For a pending export whose job is not queued or running any more: why, in words
    (the page then stops polling). None while the worker may still pick it up."""
    if export.status != PENDING:
        return None
    state = job_state(job_id(export.id))
    if state in LIVE_JOB_STATES:
        return None
    db.session.refresh(export)  # the job may have finished between the two reads
    if export.status != PENDING:
        return None
    if state == "unreachable":
        return ("The job queue cannot be reached right now, so no worker can prepare this "
                "export. Reload this page later, or request the export again.")
    return ("No worker holds this export any more (the queue was unreachable when it was "
            "requested, or the job was lost). Please request the export again.")


def take_export(export: CertificateExport, *, actor: User) -> tuple[bytes, str, str]:
    """Hand out the prepared file once: (bytes, mimetype, filename). The payload is wiped
    in the same conditional update that marks it downloaded, so of two concurrent
    downloads exactly one gets the file."""
    if export.status == DOWNLOADED:
        raise Conflict(f"This export was already downloaded on "
                       f"{export.downloaded_at:%Y-%m-%d %H:%M} UTC; the file is kept only "
                       "until the first download. Request a new export if you need "
                       "another copy.", code="export.downloaded")
    if export.status != READY or not export.payload_b64:
        raise Conflict("This export is not ready to download (it is still being prepared "
                       "or it failed).", code="export.unavailable")
    data = base64.b64decode(export.payload_b64)
    taken = db.session.execute(update(CertificateExport).where(
        CertificateExport.id == export.id, CertificateExport.status == READY
    ).values(status=DOWNLOADED, payload_b64=None, downloaded_at=utcnow())).rowcount
    if not taken:
        db.session.rollback()
        raise Conflict("This export was already downloaded; the file is kept only until "
                       "the first download.", code="export.downloaded")
    cert = export.certificate
    audit.record("certificate.key_export", resource_type="certificate", resource_id=cert.id,
                 actor=actor, details={"common_name": cert.common_name,
                                       "format": export.format, "export_id": str(export.id)})
    db.session.commit()
    stem = safe_filename(cert.common_name)
    if export.format == "pkcs12":
        return data, "application/x-pkcs12", f"{stem}.p12"
    return data, "application/x-pem-file", f"{stem}-key.pem"
