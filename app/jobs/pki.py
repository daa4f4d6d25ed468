"""The Local PKI jobs: thin (an id in, one service call; see ``services/ca_generation``)."""
from __future__ import annotations

from app.services import ca_generation


def generate_ca(ca_id: str) -> str:
    """Generate a pending CA's key and certificate (safe to run twice)."""
    return ca_generation.generate_ca(ca_id)


def prepare_key_export(export_id: str, sealed_passphrase: str) -> str:
    """Export a root CA key under the requester's passphrase (never raises)."""
    return ca_generation.prepare_key_export(export_id, sealed_passphrase)
