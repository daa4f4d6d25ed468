"""Export of private keys for download, as passphrase-encrypted PKCS#8.

cryptography's ``BestAvailableEncryption`` already writes PBES2 (PBKDF2-HMAC-SHA256 +
AES-256-CBC) but with a fixed 2,048 PBKDF2 iterations, far too cheap for a file that
leaves our control. cryptography offers no PKCS#8 encryption builder, so we assemble the
same standard structure (RFC 8018 / RFC 5958) ourselves with a modern iteration count;
OpenSSL 3, cryptography, Java and Go read it like any other PBES2 key.
"""

from __future__ import annotations

import base64
import os
from typing import Final

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from app.pki.errors import WeakPassphrase
from app.pki.keys import PrivateKey

MIN_PASSPHRASE_LENGTH: Final[int] = 12
# OWASP's 2023 recommendation for PBKDF2-HMAC-SHA256; ~0.1 s per export or import.
PBKDF2_ITERATIONS: Final[int] = 600_000
_SALT_BYTES: Final[int] = 16
_AES_BLOCK_BYTES: Final[int] = 16

# Pre-encoded DER OBJECT IDENTIFIERs (tag, length, value).
_OID_PBES2: Final[bytes] = bytes.fromhex("06092a864886f70d01050d")  # 1.2.840.113549.1.5.13
_OID_PBKDF2: Final[bytes] = bytes.fromhex("06092a864886f70d01050c")  # 1.2.840.113549.1.5.12
_OID_HMAC_SHA256: Final[bytes] = bytes.fromhex("06082a864886f70d0209")  # 1.2.840.113549.2.9
_OID_AES256_CBC: Final[bytes] = bytes.fromhex("060960864801650304012a")  # 2.16.840.1.101.3.4.1.42
_DER_NULL: Final[bytes] = b"\x05\x00"


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        header = bytes([length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([0x80 | len(size)]) + size
    return bytes([tag]) + header + content


def _sequence(*items: bytes) -> bytes:
    return _der(0x30, b"".join(items))


def _octet_string(data: bytes) -> bytes:
    return _der(0x04, data)


def _integer(value: int) -> bytes:
    # One extra byte so a set high bit is not read as a negative number.
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def check_passphrase(passphrase: str) -> None:
    """Refuse passphrases shorter than :data:`MIN_PASSPHRASE_LENGTH` characters.

    Raises :class:`WeakPassphrase` with a message fit for the export form.
    """
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise WeakPassphrase(
            f"Passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters."
        )


def export_encrypted_pkcs8(private_key: PrivateKey, passphrase: str) -> bytes:
    """Return the key as PEM ``ENCRYPTED PRIVATE KEY`` protected by ``passphrase``.

    Encryption is PBES2: PBKDF2-HMAC-SHA256 (:data:`PBKDF2_ITERATIONS` rounds, 16-byte
    random salt) deriving an AES-256-CBC key, random IV. The passphrase is used as
    UTF-8. Opens with ``openssl pkey -in key.pem -passin pass:...``. Raises
    :class:`WeakPassphrase` if the passphrase is shorter than 12 characters.
    """
    check_passphrase(passphrase)
    plaintext = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt = os.urandom(_SALT_BYTES)
    iv = os.urandom(_AES_BLOCK_BYTES)
    key = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32, salt=salt, iterations=PBKDF2_ITERATIONS
    ).derive(passphrase.encode("utf-8"))
    padder = padding.PKCS7(_AES_BLOCK_BYTES * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()

    algorithm_identifier = _sequence(
        _OID_PBES2,
        _sequence(
            _sequence(
                _OID_PBKDF2,
                _sequence(
                    _octet_string(salt),
                    _integer(PBKDF2_ITERATIONS),
                    _sequence(_OID_HMAC_SHA256, _DER_NULL),
                ),
            ),
            _sequence(_OID_AES256_CBC, _octet_string(iv)),
        ),
    )
    der = _sequence(algorithm_identifier, _octet_string(ciphertext))
    return _pem("ENCRYPTED PRIVATE KEY", der)


def _pem(label: str, der: bytes) -> bytes:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
    ).encode("ascii")
