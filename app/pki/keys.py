"""Private key generation, in-memory serialisation and description.

Keys produced here are plaintext objects; persisting them is the job of
:mod:`app.pki.key_encryption`, and handing them to a user that of :mod:`app.pki.export`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.pki.algorithms import ALGORITHMS, Family, algorithm_family, key_bits
from app.pki.errors import InvalidKeyMaterial, UnsupportedAlgorithm
from app.pki.key_quality import check_key_quality

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# 65537 is the only exponent modern validators (and the CA/B Forum) expect.
_RSA_PUBLIC_EXPONENT: Final[int] = 65537

_CURVES: Final[dict[int, type[ec.EllipticCurve]]] = {
    256: ec.SECP256R1,
    384: ec.SECP384R1,
    521: ec.SECP521R1,
}
_CURVE_BITS_BY_NAME: Final[dict[str, int]] = {
    curve.name: bits for bits, curve in _CURVES.items()
}


@dataclass(frozen=True)
class KeyInfo:
    """What a key is, for display and for policy checks.

    ``algorithm`` is the platform id (e.g. ``"ec-384"``) when the key matches one of
    :data:`app.pki.algorithms.ALGORITHMS`, otherwise ``None`` (e.g. RSA-1024, brainpool).
    """

    family: Family
    bits: int
    algorithm: str | None


def generate_private_key(algorithm: str) -> PrivateKey:
    """Generate a fresh private key for an id from :data:`ALGORITHMS`.

    RSA keys use public exponent 65537; EC keys use the NIST P-256/P-384/P-521 curves.
    Raises :class:`UnsupportedAlgorithm` for unknown ids, and
    :class:`app.pki.key_quality.BadKey` should the generator ever make a broken key.
    """
    family = algorithm_family(algorithm)
    bits = key_bits(algorithm)
    key: PrivateKey
    if family == "rsa":
        key = rsa.generate_private_key(public_exponent=_RSA_PUBLIC_EXPONENT, key_size=bits)
    else:
        key = ec.generate_private_key(_CURVES[bits]())
    # An assertion: the platform's own keys pass the same quality checks as users' keys
    # (a broken generator would be caught here, before anything certifies the key).
    check_key_quality(key, "generated")
    return key


def private_key_to_pem(private_key: PrivateKey) -> bytes:
    """Serialise a key as *unencrypted* PKCS#8 PEM.

    Only for in-memory hand-off to :mod:`app.pki.key_encryption`; never write the
    result to disk or a database column as is.
    """
    return private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def load_private_key_pem(pem: bytes) -> PrivateKey:
    """Parse an unencrypted PEM private key (PKCS#8 or traditional) into a key object.

    Raises :class:`InvalidKeyMaterial` if the bytes are not an unencrypted PEM key and
    :class:`UnsupportedAlgorithm` if the key is neither RSA nor elliptic-curve.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except _CryptoUnsupported:
        raise UnsupportedAlgorithm("The private key uses an unsupported algorithm.") from None
    except (ValueError, TypeError):
        # TypeError is what cryptography raises for an encrypted key without a password.
        raise InvalidKeyMaterial(
            "The data is not a readable, unencrypted PEM private key."
        ) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise UnsupportedAlgorithm("Only RSA and elliptic-curve private keys are supported.")
    return key


def public_key_of(key: PrivateKey | PublicKey) -> PublicKey:
    """Return the public half of a key, or the key itself if it already is public."""
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return key.public_key()
    return key


def public_key_der(key: PrivateKey | PublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of a key's public half."""
    return public_key_of(key).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def same_public_key(a: PrivateKey | PublicKey, b: PrivateKey | PublicKey) -> bool:
    """Tell whether two keys (private or public, in any mix) share one public key.

    Compares DER SubjectPublicKeyInfo, so it is exact and independent of key type.
    """
    return public_key_der(a) == public_key_der(b)


def describe_key(key: PrivateKey | PublicKey) -> KeyInfo:
    """Describe an RSA or EC key, public or private.

    Raises :class:`UnsupportedAlgorithm` for any other key type (Ed25519, DSA, ...).
    """
    # Private and public halves both expose key_size / curve, so no conversion is needed.
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        alg = f"rsa-{key.key_size}"
        return KeyInfo(
            family="rsa",
            bits=key.key_size,
            algorithm=alg if alg in ALGORITHMS else None,
        )
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        ours = _CURVE_BITS_BY_NAME.get(key.curve.name)
        return KeyInfo(
            family="ecdsa",
            bits=key.curve.key_size,
            algorithm=f"ec-{ours}" if ours is not None else None,
        )
    raise UnsupportedAlgorithm("Only RSA and elliptic-curve keys are supported.")
