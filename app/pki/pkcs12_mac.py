"""Re-keying a PKCS#12 file's integrity MAC with a modern iteration count.

A PKCS#12 file's MAC is keyed from the same passphrase as its encrypted bags, so it is
also a way to test passphrase guesses offline. cryptography lets us choose the PBKDF2
rounds for the bags but always writes the MAC with 2,048 iterations of the PKCS#12 KDF,
which would make guessing through the MAC hundreds of times cheaper than through the
bags. :func:`strengthen_mac` recomputes the MAC (RFC 7292 section 5 and appendix B)
with as many iterations as the bags use, so both paths cost the same. OpenSSL, Java,
Windows and cryptography read the iteration count from the file, like any other value.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

from app.pki.errors import PkiError

# DER OBJECT IDENTIFIER 2.16.840.1.101.3.4.2.1 (SHA-256).
_SHA256_ALGORITHM_OID: Final[bytes] = bytes.fromhex("0609608648016503040201")
_MAC_KEY_ID: Final[int] = 3  # RFC 7292 B.3: diversifier for MAC keys
_BLOCK_BYTES: Final[int] = 64  # SHA-256's input block size, "v" in RFC 7292 B.2
_FAILED: Final[str] = (
    "Building the PKCS#12 file failed unexpectedly; please report this to an administrator."
)


def _read(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """Return ``(tag, content_start, content_end, tlv_end)`` of the DER TLV at ``pos``."""
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, pos, end, end


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int, int]]:
    """Return ``(tag, tlv_start, content_start, content_end, tlv_end)`` of each child."""
    children = []
    pos = start
    while pos < end:
        tag, c_start, c_end, tlv_end = _read(data, pos)
        children.append((tag, pos, c_start, c_end, tlv_end))
        pos = tlv_end
    return children


def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _integer(value: int) -> bytes:
    # One extra byte so a set high bit is not read as a negative number.
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _fill(data: bytes) -> bytes:
    # RFC 7292 B.2 steps 2-3: repeat to a whole number of blocks (empty stays empty).
    if not data:
        return b""
    size = _BLOCK_BYTES * -(-len(data) // _BLOCK_BYTES)
    return (data * (size // len(data) + 1))[:size]


def _mac_key(passphrase: str, salt: bytes, iterations: int) -> bytes:
    # RFC 7292 B.1: the password is a NUL-terminated big-endian BMPString.
    password = passphrase.encode("utf-16-be") + b"\x00\x00"
    digest = bytes([_MAC_KEY_ID]) * _BLOCK_BYTES + _fill(salt) + _fill(password)
    for _ in range(iterations):
        digest = hashlib.sha256(digest).digest()
    return digest  # one block of output is exactly the 32-byte HMAC-SHA256 key


def strengthen_mac(pfx: bytes, passphrase: str, iterations: int) -> bytes:
    """Return ``pfx`` with its HMAC-SHA256 MAC recomputed over ``iterations`` rounds.

    Expects cryptography's DER output with an HMAC-SHA256 MAC. Before replacing the MAC
    it recomputes the existing one from the passphrase and checks it matches, which
    proves this code derives keys exactly as the writer (and so every reader) does,
    including for non-ASCII passphrases. Raises :class:`PkiError` if the structure is
    unexpected or that check fails, rather than produce a file no one could open.
    """
    try:
        _, start, end, _ = _read(pfx, 0)
        version, auth_safe, mac_data = _children(pfx, start, end)
        _, explicit = _children(pfx, auth_safe[2], auth_safe[3])
        (octets,) = _children(pfx, explicit[2], explicit[3])
        mac_content = pfx[octets[2] : octets[3]]
        digest_info, salt, old_iterations = _children(pfx, mac_data[2], mac_data[3])
        algorithm, old_mac = _children(pfx, digest_info[2], digest_info[3])
        algorithm_id = pfx[algorithm[1] : algorithm[4]]
        oid = _children(pfx, algorithm[2], algorithm[3])[0]
        if pfx[oid[1] : oid[4]] != _SHA256_ALGORITHM_OID:
            raise ValueError("MAC is not HMAC-SHA256")
        salt_bytes = pfx[salt[2] : salt[3]]
        old_count = int.from_bytes(pfx[old_iterations[2] : old_iterations[3]], "big")
    except (ValueError, IndexError):
        raise PkiError(_FAILED) from None

    expected = hmac.digest(
        _mac_key(passphrase, salt_bytes, old_count), mac_content, "sha256"
    )
    if not hmac.compare_digest(expected, pfx[old_mac[2] : old_mac[3]]):
        raise PkiError(_FAILED)

    new_mac = hmac.digest(_mac_key(passphrase, salt_bytes, iterations), mac_content, "sha256")
    new_mac_data = _tlv(
        0x30,
        _tlv(0x30, algorithm_id + _tlv(0x04, new_mac))
        + pfx[salt[1] : salt[4]]
        + _integer(iterations),
    )
    return _tlv(
        0x30, pfx[version[1] : version[4]] + pfx[auth_safe[1] : auth_safe[4]] + new_mac_data
    )
