"""The Local PKI's worker side: generating a CA's key and certificate, and exporting a
root key under a passphrase. Runs only in the worker (the back control plane), the only
process that loads the key-encryption keyring; the jobs in ``app/jobs/pki.py`` call these."""
from __future__ import annotations

import logging
import uuid
from dataclasses import fields

from cryptography import x509
from sqlalchemy import update

from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import CertificateAuthority, KeyExport
from app.models.base import utcnow
from app.models.pki import CA_ACTIVE, CA_FAILED, CA_PENDING
from app.pki.ca import create_intermediate_certificate, create_root_certificate
from app.pki.encoding import certificate_to_pem, fingerprint_sha256
from app.pki.errors import PkiError
from app.pki.export import export_encrypted_pkcs8
from app.pki.key_encryption import KeyEncryptionKeyring
from app.pki.keys import generate_private_key, load_private_key_pem, private_key_to_pem
from app.pki.subject import SubjectFields
from app.services import audit, sealed
from app.services.key_bindings import ca_key_binding
from app.services.keyring import load_keyring
from app.services.pki_urls import pointers_for

log = logging.getLogger(__name__)
UNEXPECTED = "Generation failed because of an internal error; see the worker log."


def generate_ca(ca_id: str) -> str:
    """Generate the key and certificate of a pending CA row and activate it.

    Safe to run twice: only a row still ``pending`` is worked on, and the final write is a
    conditional update, so of two concurrent runs exactly one activates the CA."""
    ca = db.session.get(CertificateAuthority, uuid.UUID(ca_id))
    if ca is None or ca.status != CA_PENDING:
        return "skipped"
    try:
        keyring = load_keyring()
        key = generate_private_key(ca.algorithm)
        subject = SubjectFields(**{f.name: getattr(ca, f.name) for f in fields(SubjectFields)})
        if ca.parent is None:
            cert = create_root_certificate(subject, key, ca.digest, ca.validity_days)
        else:
            cert = _sign_with_parent(ca, subject, key, keyring)
        values = _activation_values(ca.id, cert, private_key_to_pem(key), keyring)
    except PkiError as exc:
        return _fail(ca.id, str(exc))
    except Exception:
        log.exception("CA generation %s failed", ca_id)
        return _fail(ca.id, UNEXPECTED)
    done = db.session.execute(update(CertificateAuthority).where(
        CertificateAuthority.id == ca.id, CertificateAuthority.status == CA_PENDING
    ).values(**values)).rowcount
    if done:
        audit.record("ca.generate", resource_type="ca", resource_id=ca.id, details={
            "common_name": ca.common_name, "kind": ca.kind, "serial": values["serial_hex"],
            "not_after": cert.not_valid_after_utc.isoformat(timespec="seconds")})
    db.session.commit()
    if done:
        _publish_revocation_data(ca)
    return "activated" if done else "skipped"


def _publish_revocation_data(ca: CertificateAuthority) -> None:
    """A new CA's first (empty) CRL, and for an intermediate its root's OCSP answer."""
    enqueue("issue_crl", f"crl-{ca.id}-first", str(ca.id), description="first CRL of a CA")
    if ca.parent_id is not None:
        enqueue("sign_intermediate_ocsp", f"ocsp-ca-{ca.id}-first", str(ca.id),
                description="the root's OCSP response about a new intermediate")


def _sign_with_parent(ca: CertificateAuthority, subject: SubjectFields, key: object,
                      keyring: KeyEncryptionKeyring) -> x509.Certificate:
    parent = ca.parent
    assert parent is not None
    if not parent.can_sign or parent.certificate_pem is None:
        raise PkiError(f"Root '{parent.common_name}' is {parent.display_status} and cannot sign.")
    parent_key = load_private_key_pem(
        keyring.decrypt(parent.encrypted_private_key or "", ca_key_binding(parent.id)))
    parent_cert = x509.load_pem_x509_certificate(parent.certificate_pem.encode())
    return create_intermediate_certificate(
        subject, key, ca.digest, ca.validity_days, parent_cert, parent_key,
        path_length=ca.path_length or 0,
        extended_key_usage=tuple(ca.extended_key_usage or ()),
        permitted_dns=tuple(ca.permitted_dns or ()),
        pointers=pointers_for(parent.id))


def _activation_values(ca_id: uuid.UUID, cert: x509.Certificate, key_pem: bytes,
                       keyring: KeyEncryptionKeyring) -> dict[str, object]:
    return {
        "status": CA_ACTIVE,
        "certificate_pem": certificate_to_pem(cert).decode(),
        "encrypted_private_key": keyring.encrypt(key_pem, ca_key_binding(ca_id)),
        "serial_hex": format(cert.serial_number, "x"),
        "fingerprint_sha256": fingerprint_sha256(cert),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "activated_at": utcnow(),
        "error": None,
    }


def _fail(ca_id: uuid.UUID, message: str) -> str:
    db.session.rollback()
    failed = db.session.execute(update(CertificateAuthority).where(
        CertificateAuthority.id == ca_id, CertificateAuthority.status == CA_PENDING
    ).values(status=CA_FAILED, error=message)).rowcount
    if failed:
        ca = db.session.get(CertificateAuthority, ca_id)
        audit.record("ca.generate", outcome=audit.FAILURE, resource_type="ca",
                     resource_id=ca_id, details={
                         "common_name": ca.common_name if ca else "",
                         "kind": ca.kind if ca else "", "reason": message})
    db.session.commit()
    return "failed"


def prepare_key_export(export_id: str, sealed_passphrase: str) -> str:
    """Decrypt a CA key and re-encrypt it under the requester's passphrase (PKCS#8).
    Never raises: a failure is written to the export row, so RQ keeps no failed job
    holding the sealed passphrase."""
    export = db.session.get(KeyExport, uuid.UUID(export_id))
    if export is None or export.status != "pending":
        return "skipped"
    passphrase = sealed.unseal(sealed_passphrase)
    ca = export.ca
    try:
        if passphrase is None:
            raise PkiError("The export request expired before a worker picked it up; "
                           "please request it again.")
        if not ca.encrypted_private_key:
            raise PkiError("This CA's private key is no longer on the platform.")
        key = load_private_key_pem(
            load_keyring().decrypt(ca.encrypted_private_key, ca_key_binding(ca.id)))
        export.encrypted_pem = export_encrypted_pkcs8(key, passphrase).decode()
        export.status = "ready"
    except PkiError as exc:
        export.status, export.error = "failed", str(exc)
    except Exception:
        log.exception("key export %s failed", export_id)
        export.status, export.error = "failed", "Export failed because of an internal error."
    db.session.commit()
    return export.status
