"""Secrets the web process takes but must not be able to read back (provider API keys,
EAB and TSIG secrets; later webhook secrets).

The web process does not hold the key-encryption key, so it cannot encrypt under it.
Instead the worker owns an X25519 key pair (``WorkerKey``): its private key is stored
wrapped under the KEK, its public key in the clear. The web *seals* a secret to the public
key (a compact JWE, ``ECDH-ES+A256KW`` / ``A256GCM``) and stores the token; only the
worker, which can unwrap the private key, *opens* it.

A sealed value is bound to where it is stored (``binding``, e.g. ``provider:<id>:api_key``):
a token copied into another row or field does not open there.

- ``ensure_worker_key``: worker start (creates the pair once).
- ``seal_for_worker``: web/CLI; raises ``WorkerKeyMissing`` until a worker has started.
- ``open_sealed``: worker only (loads the keyring).
"""
from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from jwcrypto import jwk
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import WorkerKey
from app.services.errors import ServiceError
from app.services.jwe import decrypt_with_private_key, encrypt_to_public_key
from app.services.keyring import load_keyring


class WorkerKeyMissing(ServiceError):
    status = 503

    def __init__(self) -> None:
        super().__init__("Secrets cannot be stored until the worker has started once (it "
                         "creates the key secrets are sealed to). Start the worker and try "
                         "again.", code="worker_key.missing")


class SealedSecretInvalid(ValueError):
    """A sealed token that does not open here (tampered, copied, or its key is gone)."""


def _binding(kid: str) -> bytes:
    return f"worker-key:{kid}".encode()


def current_key() -> WorkerKey | None:
    return db.session.scalar(select(WorkerKey).order_by(WorkerKey.id.desc()).limit(1))


def ensure_worker_key() -> WorkerKey:
    """The newest worker key, created (under the KEK) if there is none. Worker only."""
    existing = current_key()
    if existing is not None:
        return existing
    private = x25519.X25519PrivateKey.generate()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    kid = jwk.JWK.from_pem(public_pem.encode()).thumbprint()
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    row = WorkerKey(kid=kid, public_key_pem=public_pem,
                    private_key_encrypted=load_keyring().encrypt(private_pem, _binding(kid)))
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:   # another worker created one at the same moment
        db.session.rollback()
        return current_key()  # type: ignore[return-value]
    return row


def seal_for_worker(value: str, binding: str) -> str:
    key = current_key()
    if key is None:
        raise WorkerKeyMissing()
    payload = json.dumps({"b": binding, "v": value}).encode()
    return encrypt_to_public_key(payload, key.public_key_pem)


def _header_kid(token: str) -> str:
    try:
        header = token.split(".", 1)[0]
        data = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        return str(data["kid"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SealedSecretInvalid("not a sealed secret") from exc


def open_sealed(token: str, binding: str) -> str:
    """The sealed value. Raises SealedSecretInvalid when it does not open for
    ``binding``. Worker only: it unwraps the worker's private key with the KEK."""
    kid = _header_kid(token)
    key = db.session.scalar(select(WorkerKey).where(WorkerKey.kid == kid))
    if key is None:
        raise SealedSecretInvalid("the worker key it was sealed to is gone")
    private_pem = load_keyring().decrypt(key.private_key_encrypted, _binding(kid))
    try:
        data = json.loads(decrypt_with_private_key(token, private_pem))
    except ValueError as exc:
        raise SealedSecretInvalid("does not decrypt") from exc
    if not isinstance(data, dict) or data.get("b") != binding:
        raise SealedSecretInvalid("sealed for another place")
    return str(data["v"])
