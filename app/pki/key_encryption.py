"""Encryption of private keys at rest under a rotatable key-encryption key (KEK).

Tokens look like ``aes256gcm:<kid>:<nonce>:<ciphertext>`` (base64url, unpadded), so each
stored value names the KEK that sealed it: several KEKs can be configured at once, new
values use the current one, and :meth:`KeyEncryptionKeyring.rewrap` moves old values
forward during rotation.

Associated data binds a token to where it is stored: encrypt a CA's key with
``associated_data=b"ca:<uuid>"`` and decrypt with the same bytes. A token copied into
another row then fails authentication instead of silently yielding the wrong CA's key.
The token's own ``aes256gcm:<kid>:`` prefix is authenticated too.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.pki.errors import KeyDecryptionError, KeyringConfigError

SCHEME: Final[str] = "aes256gcm"
KEY_BYTES: Final[int] = 32
# 96-bit random nonces are GCM's native size; collisions stay negligible for the
# number of keys one platform will ever encrypt under one KEK.
NONCE_BYTES: Final[int] = 12
_TAG_BYTES: Final[int] = 16
_KID_RE: Final[re.Pattern[str]] = re.compile(r"[A-Za-z0-9_-]{1,32}")
_B64URL_RE: Final[re.Pattern[str]] = re.compile(r"[A-Za-z0-9_-]*")


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not _B64URL_RE.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_kid(kid: object) -> str:
    if not isinstance(kid, str) or not _KID_RE.fullmatch(kid):
        raise KeyringConfigError(
            "A key-encryption key id must be 1 to 32 letters, digits, '-' or '_'."
        )
    return kid


def _decode_key(kid: str, text: str) -> bytes:
    # Accept standard and URL-safe alphabets, since people paste keys from either.
    normalized = text.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(normalized, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringConfigError(
            f"Key-encryption key {kid!r} is not valid base64."
        ) from None
    if len(key) != KEY_BYTES:
        raise KeyringConfigError(
            f"Key-encryption key {kid!r} must be exactly {KEY_BYTES} bytes "
            f"(got {len(key)})."
        )
    return key


class KeyEncryptionKeyring:
    """The configured KEKs by id, with the one used for new encryptions.

    Never exposes key bytes through ``repr``/``str`` or error messages, so a keyring can
    be logged or shown in a traceback safely.
    """

    __slots__ = ("_aeads", "_current_kid")

    def __init__(self, keys: Mapping[str, bytes], current_kid: str) -> None:
        """Build a keyring from raw 32-byte keys.

        Raises :class:`KeyringConfigError` for an empty mapping, a malformed kid, a key
        that is not exactly 32 bytes, or a ``current_kid`` that is not among the keys.
        """
        if not keys:
            raise KeyringConfigError("At least one key-encryption key is required.")
        aeads: dict[str, AESGCM] = {}
        for kid, key in keys.items():
            _check_kid(kid)
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise KeyringConfigError(
                    f"Key-encryption key {kid!r} must be exactly {KEY_BYTES} bytes."
                )
            aeads[kid] = AESGCM(key)
        if current_kid not in aeads:
            raise KeyringConfigError(
                f"The current key-encryption key {current_kid!r} is not in the keyring."
            )
        self._aeads: Mapping[str, AESGCM] = MappingProxyType(aeads)
        self._current_kid = current_kid

    @classmethod
    def from_string(cls, spec: str) -> KeyEncryptionKeyring:
        """Parse ``"kid1:BASE64KEY[,kid2:BASE64KEY...]"``; the first entry is current.

        Spaces around entries are ignored. Raises :class:`KeyringConfigError` for an
        empty spec, an entry without ``:``, a bad or duplicate kid, a key that is not
        base64 or not exactly 32 bytes. Messages name the kid, never the key.
        """
        if not isinstance(spec, str) or not spec.strip():
            raise KeyringConfigError("The key-encryption keyring setting is empty.")
        keys: dict[str, bytes] = {}
        for position, entry in enumerate(spec.split(","), start=1):
            kid, sep, encoded = entry.strip().partition(":")
            if not sep:
                raise KeyringConfigError(
                    f"Entry {position} of the key-encryption keyring must look like "
                    "'kid:base64key'."
                )
            _check_kid(kid)
            if kid in keys:
                raise KeyringConfigError(
                    f"Key-encryption key id {kid!r} appears more than once."
                )
            keys[kid] = _decode_key(kid, encoded)
        return cls(keys, current_kid=next(iter(keys)))

    @staticmethod
    def generate_spec(kid: str | None = None) -> str:
        """Return a new one-entry spec ``"kid:BASE64KEY"`` with a random 32-byte key.

        The default kid is ``"k" + YYYYMMDD + 6 hex digits``, which sorts by creation date
        and is unique enough for a handful of rotations. Raises
        :class:`KeyringConfigError` for a malformed ``kid``.
        """
        if kid is None:
            kid = f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(3)}"
        _check_kid(kid)
        return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"

    @property
    def current_kid(self) -> str:
        """The kid used by :meth:`encrypt` and :meth:`rewrap`."""
        return self._current_kid

    @property
    def kids(self) -> tuple[str, ...]:
        """All configured kids, current first."""
        return (self._current_kid, *(k for k in self._aeads if k != self._current_kid))

    def __repr__(self) -> str:
        return f"KeyEncryptionKeyring(kids={list(self.kids)!r}, current_kid={self._current_kid!r})"

    def __reduce__(self) -> object:
        # Pickling would copy key bytes into caches or job queues; refuse outright.
        raise TypeError("KeyEncryptionKeyring cannot be pickled.")

    def encrypt(self, plaintext: bytes, associated_data: bytes = b"") -> str:
        """Encrypt under the current KEK; return an ASCII token safe to store in a text column.

        Each call uses a fresh random nonce, so equal plaintexts give different tokens.
        ``associated_data`` is not stored; the same bytes must be given to :meth:`decrypt`.
        """
        return self._seal(self._current_kid, plaintext, associated_data)

    def decrypt(self, token: str, associated_data: bytes = b"") -> bytes:
        """Decrypt a token made by :meth:`encrypt` with any configured KEK.

        Raises :class:`KeyDecryptionError` if the token is malformed, names a KEK that is
        not configured, or fails authentication (wrong associated data, tampering or a
        different key under the same kid).
        """
        kid, nonce, sealed = self._parse(token)
        aead = self._aeads.get(kid)
        if aead is None:
            raise KeyDecryptionError(
                f"The key was encrypted with key-encryption key {kid!r}, "
                "which is not configured."
            )
        try:
            return aead.decrypt(nonce, sealed, self._aad(kid, associated_data))
        except InvalidTag:
            raise KeyDecryptionError(
                "The encrypted key could not be authenticated: it was altered, belongs "
                "to a different record, or the key-encryption key is wrong."
            ) from None

    def rewrap(self, token: str, associated_data: bytes = b"") -> str:
        """Decrypt ``token`` and encrypt it again under the current KEK.

        Used for rotation; a token already under the current kid is re-encrypted anyway
        (with a fresh nonce). Raises :class:`KeyDecryptionError` like :meth:`decrypt`.
        """
        return self.encrypt(self.decrypt(token, associated_data), associated_data)

    @staticmethod
    def token_kid(token: str) -> str:
        """Return the kid a token was sealed under, e.g. to find rows needing rotation.

        Raises :class:`KeyDecryptionError` for a malformed token.
        """
        return KeyEncryptionKeyring._parse(token)[0]

    def _seal(self, kid: str, plaintext: bytes, associated_data: bytes) -> str:
        if not isinstance(plaintext, bytes) or not isinstance(associated_data, bytes):
            raise TypeError("plaintext and associated_data must be bytes")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[kid].encrypt(nonce, plaintext, self._aad(kid, associated_data))
        return f"{SCHEME}:{kid}:{_b64url_encode(nonce)}:{_b64url_encode(sealed)}"

    @staticmethod
    def _aad(kid: str, associated_data: bytes) -> bytes:
        # The kid charset excludes ':', so this prefix cannot be confused with the data.
        return f"{SCHEME}:{kid}:".encode("ascii") + associated_data

    @staticmethod
    def _parse(token: str) -> tuple[str, bytes, bytes]:
        malformed = KeyDecryptionError("The encrypted key is malformed or truncated.")
        if not isinstance(token, str):
            raise malformed
        parts = token.split(":")
        if len(parts) != 4 or parts[0] != SCHEME or not _KID_RE.fullmatch(parts[1]):
            raise malformed
        try:
            nonce = _b64url_decode(parts[2])
            sealed = _b64url_decode(parts[3])
        except (binascii.Error, ValueError):
            raise malformed from None
        if len(nonce) != NONCE_BYTES or len(sealed) < _TAG_BYTES:
            raise malformed
        return parts[1], nonce, sealed
