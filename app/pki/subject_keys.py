"""Which public keys the platform will put into a certificate it issues.

One rule for every path a key arrives by (a parsed CSR, a key the platform generated,
an API caller's key object), so a key refused in one place is refused everywhere:
RSA of 2048-16384 bits with a modulus size divisible by 8 and an odd exponent of at
least 65537, or EC on P-256, P-384 or P-521. These are the CA/Browser Forum Baseline
Requirements' key rules (sections 6.1.5/6.1.6, with the exponent range they recommend
made mandatory), which every relying party accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    rsa,
    x448,
    x25519,
)

from app.pki.algorithms import Family
from app.pki.errors import UnsupportedKey, WeakKey

MIN_RSA_BITS: Final[int] = 2048
# Larger keys buy nothing practical and make every signature check slow; the bound also
# caps the work an attacker can cause by submitting huge keys.
MAX_RSA_BITS: Final[int] = 16384
# Below 65537 (e.g. e=3) is legal but fragile against padding mistakes; the BRs recommend
# at least 2**16 + 1 and every mainstream generator uses exactly that.
MIN_RSA_EXPONENT: Final[int] = 65537
MAX_RSA_EXPONENT: Final[int] = 2**256 - 1

_CURVE_LABELS: Final[dict[str, str]] = {
    ec.SECP256R1.name: "P-256",
    ec.SECP384R1.name: "P-384",
    ec.SECP521R1.name: "P-521",
}
_OTHER_KEY_TYPES: Final[tuple[tuple[type, str], ...]] = (
    (dsa.DSAPublicKey, "a DSA"),
    (ed25519.Ed25519PublicKey, "an Ed25519"),
    (ed448.Ed448PublicKey, "an Ed448"),
    (x25519.X25519PublicKey, "an X25519"),
    (x448.X448PublicKey, "an X448"),
)


@dataclass(frozen=True)
class SubjectKeyInfo:
    """An accepted key's family, size (modulus bits or curve size) and curve name.

    ``curve`` is the cryptography/OpenSSL curve name (``"secp384r1"``) for EC keys and
    ``None`` for RSA.
    """

    family: Family
    bits: int
    curve: str | None


def check_subject_key(public_key: object, holder: str) -> SubjectKeyInfo:
    """Accept an RSA or EC public key for certification, or refuse it with a reason.

    ``holder`` names where the key came from in messages (``"CSR"`` gives "this CSR has
    a 1024-bit key", "The CSR uses the curve secp256k1; ...").

    Raises :class:`WeakKey` for RSA below 2048 bits, and :class:`UnsupportedKey` for RSA
    above 16384 bits or of a size not divisible by 8, an RSA exponent that is even or
    outside 65537..2**256-1, an EC curve other than P-256/P-384/P-521, and every other
    key type (DSA, Ed25519, Ed448, X25519, X448, ...), which the message names.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        bits = public_key.key_size
        if bits < MIN_RSA_BITS:
            raise WeakKey(
                f"RSA keys must be at least {MIN_RSA_BITS} bits; "
                f"this {holder} has a {bits}-bit key."
            )
        if bits > MAX_RSA_BITS:
            raise UnsupportedKey(
                f"RSA keys larger than {MAX_RSA_BITS} bits are not accepted; "
                f"this {holder} has a {bits}-bit key."
            )
        if bits % 8:
            raise UnsupportedKey(
                f"RSA key sizes must be a multiple of 8 bits; this {holder} has a "
                f"{bits}-bit key."
            )
        exponent = public_key.public_numbers().e
        if exponent % 2 == 0 or not MIN_RSA_EXPONENT <= exponent <= MAX_RSA_EXPONENT:
            raise UnsupportedKey(
                f"The {holder}'s RSA public exponent must be an odd number of at least "
                f"{MIN_RSA_EXPONENT}; generate the key with the usual exponent 65537."
            )
        return SubjectKeyInfo(family="rsa", bits=bits, curve=None)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        name = public_key.curve.name
        if name not in _CURVE_LABELS:
            raise UnsupportedKey(
                f"The {holder} uses the curve {name}; only P-256, P-384 and P-521 are "
                "accepted."
            )
        return SubjectKeyInfo(family="ecdsa", bits=public_key.curve.key_size, curve=name)
    kind = next(
        (label for cls, label in _OTHER_KEY_TYPES if isinstance(public_key, cls)),
        "an unsupported type of",
    )
    raise UnsupportedKey(
        f"The {holder} uses {kind} key; only RSA and elliptic-curve keys "
        "(P-256, P-384, P-521) are accepted."
    )

