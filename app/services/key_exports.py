"""The worker side of a certificate key export: the key under the requester's passphrase
(PKCS#8 or PKCS#12). Runs only in the worker (the back control plane), the only process
that loads the key-encryption keyring; ``app/jobs/exports.py`` calls it."""
from __future__ import annotations

import base64
import logging
import uuid

from cryptography import x509
from sqlalchemy import update

from app.extensions import db
from app.models import CertificateExport
from app.pki.bundles import pkcs12_bundle
from app.pki.encoding import load_certificate_pem
from app.pki.errors import PkiError
from app.pki.export import export_encrypted_pkcs8
from app.pki.keys import load_private_key_pem
from app.services import sealed
from app.services.key_bindings import certificate_key_binding
from app.services.keyring import load_keyring

log = logging.getLogger(__name__)
UNEXPECTED = "Export failed because of an internal error; see the worker log."


def prepare_certificate_export(export_id: str, sealed_passphrase: str) -> str:
    """Decrypt the certificate's key and write it under the requester's passphrase as
    encrypted PKCS#8 PEM or PKCS#12 (key, certificate, chain) into ``payload_b64``.

    Never raises: a failure is written to the export row, so RQ keeps no failed job
    holding the sealed passphrase. Only a row still ``pending`` is worked on and the final
    write is conditional, so a second run changes nothing."""
    ident = uuid.UUID(export_id)
    export = db.session.get(CertificateExport, ident)
    if export is None or export.status != "pending":
        return "skipped"
    cert = export.certificate
    try:
        passphrase = sealed.unseal(sealed_passphrase)
        if passphrase is None:
            raise PkiError("The export request expired before a worker picked it up; "
                           "please request it again.")
        if not cert.encrypted_private_key:
            raise PkiError("This certificate's private key is not on the platform.")
        key = load_private_key_pem(load_keyring().decrypt(
            cert.encrypted_private_key, certificate_key_binding(cert.id)))
        if export.format == "pkcs12":
            chain = x509.load_pem_x509_certificates(cert.chain_pem.encode()) \
                if cert.chain_pem.strip() else []
            payload = pkcs12_bundle(key, load_certificate_pem(cert.certificate_pem.encode()),
                                    chain, passphrase, friendly_name=cert.common_name)
        elif export.format == "pkcs8":
            payload = export_encrypted_pkcs8(key, passphrase)
        else:
            raise PkiError(f"Unknown export format '{export.format}'.")
        values = {"status": "ready", "error": None,
                  "payload_b64": base64.b64encode(payload).decode("ascii")}
    except PkiError as exc:
        values = {"status": "failed", "error": str(exc)}
    except Exception:
        log.exception("certificate key export %s failed", export_id)
        values = {"status": "failed", "error": UNEXPECTED}
    db.session.rollback()
    done = db.session.execute(update(CertificateExport).where(
        CertificateExport.id == ident, CertificateExport.status == "pending"
    ).values(**values)).rowcount
    db.session.commit()
    return str(values["status"]) if done else "skipped"
