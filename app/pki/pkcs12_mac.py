"""Re-keying a PKCS#12 file's integrity MAC with a modern iteration count.

A PKCS#12 file's MAC is keyed from the same passphrase as its encrypted bags, so it is
also a way to test passphrase guesses offline. cryptography lets us choose the PBKDF2
rounds for the bags but always writes the MAC with 2,048 iterations of the PKCS#12 KDF,
which would make guessing through the MAC hundreds of times cheaper than through the
bags. :func:`strengthen_mac` recomputes the MAC (RFC 7292 section 5 and appendix B)
with as many iterations as the bags use, so neither path is the cheap one. Readers take
the iteration count from the file like any other parameter (the tests open the result
with OpenSSL 3 and cryptography).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final, NamedTuple

from app.pki.errors import PkiError

# DER OBJECT IDENTIFIER 2.16.840.1.101.3.4.2.1 (SHA-256).
_SHA256_ALGORITHM_OID: Final[bytes] = bytes.fromhex("0609608648016503040201")
_MAC_KEY_ID: Final[int] = 3  # RFC 7292 B.3: diversifier for MAC keys
_BLOCK_BYTES: Final[int] = 64  # SHA-256's input block size, "v" in RFC 7292 B.2
_FAILED: Final[str] = (
    "Building the PKCS#12 file failed unexpectedly; please report this to an administrator."
)


class _Node(NamedTuple):
    """One DER element: where it starts, where its content lies, where it ends."""

    start: int
    content_start: int
    end: int

    def raw(self, data: bytes) -> bytes:
        return data[self.start : self.end]

    def content(self, data: bytes) -> bytes:
        return data[self.content_start : self.end]


def _read(data: bytes, pos: int) -> _Node:
    first = data[pos + 1]
    content_start = pos + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[content_start : content_start + count], "big")
        content_start += count
    if content_start + length > len(data):
        raise ValueError("truncated DER")
    return _Node(pos, content_start, content_start + length)


def _children(data: bytes, node: _Node) -> list[_Node]:
    children = []
    pos = node.content_start
    while pos < node.end:
        children.append(_read(data, pos))
        pos = children[-1].end
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
        version, auth_safe, mac_data = _children(pfx, _read(pfx, 0))
        _, explicit = _children(pfx, auth_safe)  # ContentInfo: type, [0] content
        (octets,) = _children(pfx, explicit)
        mac_content = octets.content(pfx)
        digest_info, salt, old_iterations = _children(pfx, mac_data)
        algorithm, old_mac = _children(pfx, digest_info)
        if _children(pfx, algorithm)[0].raw(pfx) != _SHA256_ALGORITHM_OID:
            raise ValueError("MAC is not HMAC-SHA256")
        salt_bytes = salt.content(pfx)
        old_count = int.from_bytes(old_iterations.content(pfx), "big")
    except (ValueError, IndexError):
        raise PkiError(_FAILED) from None

    expected = hmac.digest(
        _mac_key(passphrase, salt_bytes, old_count), mac_content, "sha256"
    )
    if not hmac.compare_digest(expected, old_mac.content(pfx)):
        raise PkiError(_FAILED)

    new_mac = hmac.digest(_mac_key(passphrase, salt_bytes, iterations), mac_content, "sha256")
    new_mac_data = _tlv(
        0x30,
        _tlv(0x30, algorithm.raw(pfx) + _tlv(0x04, new_mac))
        + salt.raw(pfx)
        + _integer(iterations),
    )
    return _tlv(0x30, version.raw(pfx) + auth_safe.raw(pfx) + new_mac_data)
