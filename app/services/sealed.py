"""Short-lived sealing of a secret that must travel through Redis to the worker (a user's
export passphrase). Both processes share SECRET_KEY; a Redis dump alone reveals nothing."""
from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

SEAL_TTL_SECONDS = 3600


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"].encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"platform/sealed-job-secret/v1").derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def unseal(token: str) -> str | None:
    """The sealed value, or None if it was tampered with or is older than an hour."""
    try:
        return _fernet().decrypt(token.encode(), ttl=SEAL_TTL_SECONDS).decode()
    except InvalidToken:
        return None
