"""The one rule for which public keys may be certified, at its edges."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa, x25519

from app.pki.errors import UnsupportedAlgorithm, UnsupportedKey, WeakKey
from app.pki.subject_keys import SubjectKeyInfo, check_subject_key
from tests.pki.conftest import KeyFactory


def _rsa_public(bits: int, e: int = 65537) -> rsa.RSAPublicKey:
    # Only the public numbers matter here, so no (slow) key generation is needed.
    return rsa.RSAPublicNumbers(e, (1 << (bits - 1)) | 1).public_key()


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("rsa-2048", SubjectKeyInfo("rsa", 2048, None)),
        ("rsa-4096", SubjectKeyInfo("rsa", 4096, None)),
        ("ec-256", SubjectKeyInfo("ecdsa", 256, "secp256r1")),
        ("ec-521", SubjectKeyInfo("ecdsa", 521, "secp521r1")),
    ],
)
def test_platform_keys_accepted(
    key_factory: KeyFactory, algorithm: str, expected: SubjectKeyInfo
) -> None:
    assert check_subject_key(key_factory(algorithm).public_key(), "CSR") == expected


def test_rsa_size_edges() -> None:
    assert check_subject_key(_rsa_public(2048), "CSR").bits == 2048
    assert check_subject_key(_rsa_public(16384), "CSR").bits == 16384
    with pytest.raises(WeakKey, match="this CSR has a 2040-bit key"):
        check_subject_key(_rsa_public(2040), "CSR")
    with pytest.raises(UnsupportedKey) as exc:
        check_subject_key(_rsa_public(16392), "CSR")
    assert str(exc.value) == (
        "RSA keys larger than 16384 bits are not accepted; this CSR has a 16392-bit key."
    )
    with pytest.raises(UnsupportedKey) as exc:
        check_subject_key(_rsa_public(2049), "CSR")
    assert str(exc.value) == (
        "RSA key sizes must be a multiple of 8 bits; this CSR has a 2049-bit key."
    )


@pytest.mark.parametrize("exponent", [3, 17, 65535, 2**256 + 1])
def test_rsa_exponent_outside_range_refused(exponent: int) -> None:
    with pytest.raises(UnsupportedKey, match="public exponent must be an odd number"):
        check_subject_key(_rsa_public(2048, exponent), "CSR")


def test_other_key_types_named() -> None:
    with pytest.raises(UnsupportedKey, match=r"^The CSR uses an Ed448 key;"):
        check_subject_key(ed448.Ed448PrivateKey.generate().public_key(), "CSR")
    with pytest.raises(UnsupportedKey, match=r"^The CSR uses an X25519 key;"):
        check_subject_key(x25519.X25519PrivateKey.generate().public_key(), "CSR")
    with pytest.raises(UnsupportedKey, match=r"^The CSR uses the curve secp224r1;"):
        check_subject_key(ec.generate_private_key(ec.SECP224R1()).public_key(), "CSR")
    with pytest.raises(UnsupportedKey, match="an unsupported type of key"):
        check_subject_key("not a key", "CSR")
    # Callers that catch the older, wider error type still catch these.
    assert issubclass(WeakKey, UnsupportedKey)
    assert issubclass(UnsupportedKey, UnsupportedAlgorithm)
