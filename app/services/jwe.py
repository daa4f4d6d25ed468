"""JWE (RFC 7516) of a platform-made private key for the courier that asked for it.

The worker encrypts the PKCS#8 PEM key to the courier's public key (EC P-256 or X25519)
with ``ECDH-ES+A256KW`` key agreement and ``A256GCM`` content encryption, in compact
serialisation. Only the courier, holding the private half, can read it; the platform keeps
its own copy under the key-encryption key as for every key it makes.

``decrypt_with_private_key`` is the counterpart for tests and the reference client.
"""
from __future__ import annotations

import json

from jwcrypto import jwe, jwk
from jwcrypto.common import JWException

ALG = "ECDH-ES+A256KW"
ENC = "A256GCM"


class JWEError(ValueError):
    """The key is not usable for this JWE, or the token does not decrypt."""


def _jwk_from_pem(pem: str | bytes, *, private: bool) -> jwk.JWK:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = jwk.JWK.from_pem(data)
    except (ValueError, TypeError, JWException) as exc:
        raise JWEError("The key is not a PEM EC P-256 or X25519 key.") from exc
    info = key.export_public(as_dict=True)
    if (info.get("kty"), info.get("crv")) not in {("EC", "P-256"), ("OKP", "X25519")}:
        raise JWEError("The key must be an EC P-256 or X25519 key.")
    if private and not key.has_private:
        raise JWEError("A private key is needed to decrypt.")
    return key


def encrypt_to_public_key(plaintext: bytes, public_key_pem: str) -> str:
    """A compact JWE of ``plaintext`` readable only with the private half of the key.
    The header carries the key's RFC 7638 thumbprint as ``kid``."""
    key = _jwk_from_pem(public_key_pem, private=False)
    header = {"alg": ALG, "enc": ENC, "kid": key.thumbprint()}
    token = jwe.JWE(plaintext, protected=json.dumps(header))
    token.add_recipient(key)
    return token.serialize(compact=True)


def decrypt_with_private_key(token: str, private_key_pem: str | bytes) -> bytes:
    key = _jwk_from_pem(private_key_pem, private=True)
    message = jwe.JWE()
    message.allowed_algs = [ALG, ENC]
    try:
        message.deserialize(token, key=key)
    except (JWException, ValueError) as exc:
        raise JWEError("The token does not decrypt with this key.") from exc
    return message.payload
