"""The key algorithms and signature digests the platform offers, by stable string id.

Ids are what forms and the database store; everything else maps from them here so a
typo or a retired algorithm fails in one place with a readable message.
"""

from __future__ import annotations

from typing import Final, Literal

from cryptography.hazmat.primitives import hashes

from app.pki.errors import UnsupportedAlgorithm

ALGORITHMS: Final[tuple[str, ...]] = (
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
    "ec-256",
    "ec-384",
    "ec-521",
)
DIGESTS: Final[tuple[str, ...]] = ("sha256", "sha384", "sha512")

# P-384 gives ~192-bit security at a small size and fast signing, a sensible CA default.
DEFAULT_CA_ALGORITHM: Final[str] = "ec-384"
# SHA-256 is the digest every relying party supports; larger ones are opt-in (an ECDSA
# issuer signs with its curve's hash whatever this says: app/standards/tls_profile.py).
DEFAULT_DIGEST: Final[str] = "sha256"
# The CA default pairs with DEFAULT_CA_ALGORITHM (P-384 signs with SHA-384).
DEFAULT_CA_DIGEST: Final[str] = "sha384"

Family = Literal["rsa", "ecdsa"]

_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in ALGORITHMS:
        raise UnsupportedAlgorithm(
            f"Key algorithm {algorithm!r} is not supported; "
            f"choose one of {', '.join(ALGORITHMS)}."
        )


def hash_for(digest: str) -> hashes.HashAlgorithm:
    """Return a fresh hash object for a digest id from :data:`DIGESTS`.

    Raises :class:`UnsupportedAlgorithm` for any other value.
    """
    try:
        return _HASHES[digest]()
    except (KeyError, TypeError):
        raise UnsupportedAlgorithm(
            f"Signature digest {digest!r} is not supported; "
            f"choose one of {', '.join(DIGESTS)}."
        ) from None


def algorithm_family(algorithm: str) -> Family:
    """Return ``"rsa"`` or ``"ecdsa"`` for an id from :data:`ALGORITHMS`.

    Raises :class:`UnsupportedAlgorithm` for any other value.
    """
    _check_algorithm(algorithm)
    return "rsa" if algorithm.startswith("rsa-") else "ecdsa"


def key_bits(algorithm: str) -> int:
    """Return the key size in bits (RSA modulus or EC field size) for an algorithm id.

    Raises :class:`UnsupportedAlgorithm` for ids not in :data:`ALGORITHMS`.
    """
    _check_algorithm(algorithm)
    return int(algorithm.split("-", 1)[1])
