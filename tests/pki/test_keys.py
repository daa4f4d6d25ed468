"""Key generation, description and (unencrypted, in-memory) PEM handling."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from app.pki.algorithms import (
    ALGORITHMS,
    DEFAULT_CA_ALGORITHM,
    DEFAULT_DIGEST,
    DIGESTS,
    algorithm_family,
    hash_for,
    key_bits,
)
from app.pki.errors import InvalidKeyMaterial, PkiError, UnsupportedAlgorithm
from app.pki.keys import (
    KeyInfo,
    describe_key,
    generate_private_key,
    load_private_key_pem,
    private_key_to_pem,
    same_public_key,
)
from tests.pki.conftest import KeyFactory

EXPECTED = {
    "rsa-2048": KeyInfo("rsa", 2048, "rsa-2048"),
    "rsa-3072": KeyInfo("rsa", 3072, "rsa-3072"),
    "rsa-4096": KeyInfo("rsa", 4096, "rsa-4096"),
    "ec-256": KeyInfo("ecdsa", 256, "ec-256"),
    "ec-384": KeyInfo("ecdsa", 384, "ec-384"),
    "ec-521": KeyInfo("ecdsa", 521, "ec-521"),
}


def test_catalogue() -> None:
    assert set(EXPECTED) == set(ALGORITHMS)
    assert DEFAULT_CA_ALGORITHM in ALGORITHMS
    assert DEFAULT_DIGEST in DIGESTS
    assert [type(hash_for(d)) for d in DIGESTS] == [hashes.SHA256, hashes.SHA384, hashes.SHA512]
    assert [algorithm_family(a) for a in ALGORITHMS] == ["rsa"] * 3 + ["ecdsa"] * 3
    assert [key_bits(a) for a in ALGORITHMS] == [2048, 3072, 4096, 256, 384, 521]


@pytest.mark.parametrize("bad", ["rsa-1024", "ec-192", "ed25519", "", "RSA-2048"])
def test_unknown_algorithm(bad: str) -> None:
    for func in (algorithm_family, key_bits, generate_private_key):
        with pytest.raises(UnsupportedAlgorithm) as exc:
            func(bad)
        assert str(exc.value) == (
            f"Key algorithm {bad!r} is not supported; choose one of "
            "rsa-2048, rsa-3072, rsa-4096, ec-256, ec-384, ec-521."
        )


@pytest.mark.parametrize("bad", ["sha1", "md5", "SHA256", ""])
def test_unknown_digest(bad: str) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="choose one of sha256, sha384, sha512"):
        hash_for(bad)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_generated_keys(key_factory: KeyFactory, algorithm: str) -> None:
    key = key_factory(algorithm)
    assert describe_key(key) == EXPECTED[algorithm]
    assert describe_key(key.public_key()) == EXPECTED[algorithm]
    if isinstance(key, rsa.RSAPrivateKey):
        assert key.public_key().public_numbers().e == 65537
    else:
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.curve.name == {
            "ec-256": "secp256r1", "ec-384": "secp384r1", "ec-521": "secp521r1"
        }[algorithm]


@pytest.mark.parametrize("algorithm", ["ec-256", "rsa-2048"])
def test_pem_round_trip(key_factory: KeyFactory, algorithm: str) -> None:
    key = key_factory(algorithm)
    pem = private_key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8, unencrypted
    loaded = load_private_key_pem(pem)
    assert same_public_key(loaded, key)
    assert not same_public_key(loaded, key_factory(algorithm, 1))


def test_describe_foreign_keys() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    assert describe_key(weak) == KeyInfo("rsa", 1024, None)
    koblitz = ec.generate_private_key(ec.SECP256K1())
    assert describe_key(koblitz.public_key()) == KeyInfo("ecdsa", 256, None)
    with pytest.raises(UnsupportedAlgorithm, match="Only RSA and elliptic-curve keys"):
        describe_key(ed25519.Ed25519PrivateKey.generate())  # type: ignore[arg-type]


def test_load_rejects_garbage_encrypted_and_foreign(key_factory: KeyFactory) -> None:
    with pytest.raises(InvalidKeyMaterial) as exc:
        load_private_key_pem(b"not a key")
    assert str(exc.value) == "The data is not a readable, unencrypted PEM private key."

    encrypted = key_factory("ec-256").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a passphrase here"),
    )
    with pytest.raises(InvalidKeyMaterial):
        load_private_key_pem(encrypted)

    ed_pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(UnsupportedAlgorithm):
        load_private_key_pem(ed_pem)


def test_error_hierarchy() -> None:
    assert issubclass(UnsupportedAlgorithm, PkiError)
    assert issubclass(InvalidKeyMaterial, PkiError)
