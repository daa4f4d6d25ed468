"""Passphrase-encrypted PKCS#8 export, checked with the openssl CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from app.pki.errors import PkiError, WeakPassphrase
from app.pki.export import PBKDF2_ITERATIONS, export_encrypted_pkcs8
from app.pki.keys import same_public_key
from tests.pki.conftest import KeyFactory
from tests.pki.tooling import openssl

PASSPHRASE = "correct horse battery"


@pytest.mark.parametrize("algorithm", ["ec-384", "rsa-2048"])
def test_openssl_opens_with_right_passphrase_only(
    key_factory: KeyFactory, algorithm: str, tmp_path: Path
) -> None:
    key = key_factory(algorithm)
    pem = export_encrypted_pkcs8(key, PASSPHRASE)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert pem.endswith(b"-----END ENCRYPTED PRIVATE KEY-----\n")
    path = tmp_path / "key.pem"
    path.write_bytes(pem)

    ok = openssl("pkey", "-in", str(path), "-passin", f"pass:{PASSPHRASE}", "-pubout")
    assert ok.returncode == 0, ok.stderr
    expected_public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert ok.stdout.encode() == expected_public

    for wrong in ("correct horse batterY", "wrong passphrase!!", ""):
        bad = openssl("pkey", "-in", str(path), "-passin", f"pass:{wrong}", "-noout")
        assert bad.returncode != 0

    # cryptography itself (and therefore the platform's own import path) reads it too.
    loaded = serialization.load_pem_private_key(pem, PASSPHRASE.encode())
    assert same_public_key(loaded, key)  # type: ignore[arg-type]


def test_structure_is_pbes2_pbkdf2_sha256_aes256(
    key_factory: KeyFactory, tmp_path: Path
) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(export_encrypted_pkcs8(key_factory("ec-256"), PASSPHRASE))
    parsed = openssl("asn1parse", "-in", str(path))
    assert parsed.returncode == 0, parsed.stderr
    for marker in (":PBES2", ":PBKDF2", ":hmacWithSHA256", ":aes-256-cbc"):
        assert marker in parsed.stdout
    # The first INTEGER in an EncryptedPrivateKeyInfo is PBKDF2's iteration count.
    iterations = re.search(r"prim: INTEGER\s+:([0-9A-F]+)", parsed.stdout)
    assert iterations is not None
    assert int(iterations.group(1), 16) == PBKDF2_ITERATIONS == 600_000


def test_non_ascii_passphrase_is_utf8(key_factory: KeyFactory, tmp_path: Path) -> None:
    passphrase = "Grüße aus Köln ✓"
    path = tmp_path / "key.pem"
    path.write_bytes(export_encrypted_pkcs8(key_factory("ec-256"), passphrase))
    passfile = tmp_path / "pass.txt"
    passfile.write_bytes(passphrase.encode("utf-8") + b"\n")
    ok = openssl("pkey", "-in", str(path), "-passin", f"file:{passfile}", "-noout")
    assert ok.returncode == 0, ok.stderr


@pytest.mark.parametrize("passphrase", ["", "short", "x" * 11, "ü" * 11])
def test_short_passphrase_refused(key_factory: KeyFactory, passphrase: str) -> None:
    with pytest.raises(WeakPassphrase) as exc:
        export_encrypted_pkcs8(key_factory("ec-256"), passphrase)
    assert str(exc.value) == "Passphrase must be at least 12 characters."
    assert isinstance(exc.value, PkiError)


def test_twelve_characters_is_enough(key_factory: KeyFactory) -> None:
    pem = export_encrypted_pkcs8(key_factory("ec-256"), "x" * 12)
    assert serialization.load_pem_private_key(pem, b"x" * 12)


def test_each_export_is_salted(key_factory: KeyFactory) -> None:
    key = key_factory("ec-256")
    assert export_encrypted_pkcs8(key, PASSPHRASE) != export_encrypted_pkcs8(key, PASSPHRASE)
