"""The certificate key export job: thin (see ``services/key_exports``)."""
from __future__ import annotations

from app.services import key_exports


def prepare_certificate_export(export_id: str, sealed_passphrase: str) -> str:
    """Write the export's payload or its failure to the row (never raises)."""
    return key_exports.prepare_certificate_export(export_id, sealed_passphrase)
