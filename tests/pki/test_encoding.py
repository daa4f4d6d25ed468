"""Certificate PEM/DER encodings and fingerprints, cross-checked with openssl."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509

from app.pki.ca import create_root_certificate
from app.pki.encoding import (
    certificate_to_der,
    certificate_to_pem,
    fingerprint_sha256,
    load_certificate_pem,
)
from app.pki.errors import InvalidKeyMaterial
from app.pki.subject import SubjectFields
from tests.pki.conftest import KeyFactory
from tests.pki.tooling import openssl


@pytest.fixture
def root(key_factory: KeyFactory) -> x509.Certificate:
    return create_root_certificate(SubjectFields("Encoding Root"), key_factory("ec-256"),
                                   "sha256", 30)


def test_pem_and_der_agree(root: x509.Certificate, tmp_path: Path) -> None:
    pem = certificate_to_pem(root)
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----\n")
    assert pem.endswith(b"-----END CERTIFICATE-----\n")
    assert x509.load_der_x509_certificate(certificate_to_der(root)) == root
    assert load_certificate_pem(pem) == root

    pem_path = tmp_path / "c.pem"
    pem_path.write_bytes(pem)
    converted = tmp_path / "c.der"
    result = openssl("x509", "-in", str(pem_path), "-outform", "DER", "-out", str(converted))
    assert result.returncode == 0, result.stderr
    assert converted.read_bytes() == certificate_to_der(root)


def test_fingerprint_matches_openssl(root: x509.Certificate, tmp_path: Path) -> None:
    pem_path = tmp_path / "c.pem"
    pem_path.write_bytes(certificate_to_pem(root))
    result = openssl("x509", "-in", str(pem_path), "-noout", "-fingerprint", "-sha256")
    assert result.returncode == 0, result.stderr
    expected = result.stdout.strip().split("=", 1)[1]
    fingerprint = fingerprint_sha256(root)
    assert fingerprint == expected
    assert len(fingerprint) == 32 * 3 - 1


def test_load_certificate_pem_rejects_garbage() -> None:
    with pytest.raises(InvalidKeyMaterial) as exc:
        load_certificate_pem(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    assert str(exc.value) == "The data is not a readable PEM certificate."
