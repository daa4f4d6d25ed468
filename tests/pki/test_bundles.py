"""PEM chains, PKCS#7 and PKCS#12 bundles, checked with the openssl CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from app.pki.bundles import (
    chain_pem,
    fullchain_pem,
    pkcs7_bundle,
    pkcs12_bundle,
    served_chain,
)
from app.pki.ca import create_intermediate_certificate, create_root_certificate
from app.pki.encoding import certificate_to_pem
from app.pki.errors import InvalidChain, KeyMismatch, PkiError, WeakPassphrase
from app.pki.export import PBKDF2_ITERATIONS
from app.pki.keys import PrivateKey, same_public_key
from app.pki.leaf import LeafProfile, issue_leaf
from app.pki.pkcs12_mac import strengthen_mac
from app.pki.subject import SubjectFields
from tests.pki.conftest import KeyFactory
from tests.pki.tooling import openssl

PASSPHRASE = "correct horse battery"

Chain = tuple[x509.Certificate, x509.Certificate, x509.Certificate, PrivateKey]


@pytest.fixture(scope="module")
def chain(key_factory: KeyFactory) -> Chain:
    """Root (EC P-384), issuing CA (EC P-256) and an RSA-2048 TLS leaf with its key."""
    root_key, issuing_key = key_factory("ec-384", 0), key_factory("ec-256", 1)
    leaf_key = key_factory("rsa-2048", 2)
    root = create_root_certificate(SubjectFields("Bundle Root"), root_key, "sha384", 3650)
    issuing = create_intermediate_certificate(
        SubjectFields("Bundle Issuing CA"), issuing_key, "sha384", 1825, root, root_key
    )
    leaf = issue_leaf(
        LeafProfile(SubjectFields("www.example.com"), validity_days=90),
        leaf_key.public_key(), issuing, issuing_key,
    )
    return root, issuing, leaf, leaf_key


def _subjects(openssl_output: str) -> list[str]:
    return re.findall(r"^subject=(.*)$", openssl_output, re.MULTILINE)


def test_fullchain_is_leaf_then_intermediate(chain: Chain) -> None:
    root, issuing, leaf, _ = chain
    expected = certificate_to_pem(leaf) + certificate_to_pem(issuing)
    assert fullchain_pem(leaf, [issuing]) == expected
    # The root may be passed along (the whole stored path); it is never served.
    assert fullchain_pem(leaf, [issuing, root]) == expected
    assert chain_pem(leaf, [issuing, root]) == certificate_to_pem(issuing)


def test_fullchain_verifies_with_openssl(chain: Chain, tmp_path: Path) -> None:
    root, issuing, leaf, _ = chain
    (tmp_path / "root.pem").write_bytes(certificate_to_pem(root))
    (tmp_path / "chain.pem").write_bytes(chain_pem(leaf, [issuing, root]))
    (tmp_path / "leaf.pem").write_bytes(certificate_to_pem(leaf))
    result = openssl(
        "verify", "-x509_strict", "-CAfile", str(tmp_path / "root.pem"),
        "-untrusted", str(tmp_path / "chain.pem"), str(tmp_path / "leaf.pem"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_leaf_issued_by_root_has_empty_chain(key_factory: KeyFactory) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(SubjectFields("Lone Root"), root_key, "sha256", 30)
    leaf = issue_leaf(LeafProfile(SubjectFields("a.example.com"), validity_days=10),
                      key_factory("ec-256", 2).public_key(), root, root_key)
    assert chain_pem(leaf, [root]) == b""
    assert fullchain_pem(leaf, []) == certificate_to_pem(leaf)


def test_out_of_order_or_foreign_chain_refused(chain: Chain, key_factory: KeyFactory) -> None:
    root, issuing, leaf, _ = chain
    with pytest.raises(InvalidChain) as exc:
        served_chain(leaf, [root, issuing])
    assert str(exc.value) == (
        "The chain does not link up: 'Bundle Root' did not issue 'www.example.com'. List "
        "the issuing CA first, then its issuer, and so on."
    )
    assert isinstance(exc.value, PkiError)
    # Same name, different key: the signature check catches what a name match misses,
    # and a wrong self-signed "root" is refused, not silently dropped as a root.
    impostor_key = key_factory("ec-256", 3)
    impostor = create_root_certificate(
        SubjectFields("Bundle Issuing CA"), impostor_key, "sha256", 30
    )
    other_root = create_root_certificate(SubjectFields("Other Root"), impostor_key, "sha256", 30)
    for bad in ([impostor], [issuing, other_root], [root]):
        for bundle in (chain_pem, fullchain_pem, pkcs7_bundle):
            with pytest.raises(InvalidChain):
                bundle(leaf, bad)  # type: ignore[operator]


def test_pkcs7_readable_by_openssl(chain: Chain, tmp_path: Path) -> None:
    root, issuing, leaf, _ = chain
    p7 = pkcs7_bundle(leaf, [issuing, root])
    assert p7.startswith(b"-----BEGIN PKCS7-----\n")
    path = tmp_path / "bundle.p7b"
    path.write_bytes(p7)
    result = openssl("pkcs7", "-in", str(path), "-print_certs")
    assert result.returncode == 0, result.stderr
    # PKCS#7 keeps certificates in a DER SET OF (sorted), so only membership counts.
    assert sorted(_subjects(result.stdout)) == ["CN = Bundle Issuing CA", "CN = www.example.com"]


@pytest.mark.parametrize("leaf_algorithm", ["rsa-2048", "ec-384"])
def test_pkcs12_opens_with_right_passphrase_only(
    chain: Chain, key_factory: KeyFactory, leaf_algorithm: str, tmp_path: Path
) -> None:
    root, issuing, _, _ = chain
    leaf_key = key_factory(leaf_algorithm, 4)
    leaf = issue_leaf(
        LeafProfile(SubjectFields("p12.example.com"), validity_days=30),
        leaf_key.public_key(), issuing, key_factory("ec-256", 1),
    )
    path = tmp_path / "bundle.p12"
    path.write_bytes(pkcs12_bundle(leaf_key, leaf, [issuing, root], PASSPHRASE, "My Server"))

    ok = openssl("pkcs12", "-info", "-nodes", "-in", str(path), "-passin", f"pass:{PASSPHRASE}")
    assert ok.returncode == 0, ok.stderr
    output = ok.stdout + ok.stderr  # openssl prints the algorithm summary on stderr
    assert _subjects(output) == ["CN = p12.example.com", "CN = Bundle Issuing CA"]
    assert output.count("-----BEGIN PRIVATE KEY-----") == 1
    assert "friendlyName: My Server" in output
    assert f"MAC: sha256, Iteration {PBKDF2_ITERATIONS}" in output
    assert output.count(
        f"PBES2, PBKDF2, AES-256-CBC, Iteration {PBKDF2_ITERATIONS}, PRF hmacWithSHA256"
    ) == 2  # the certificate bag and the key bag

    for wrong in ("correct horse batterY", "wrong passphrase!!", ""):
        bad = openssl("pkcs12", "-info", "-nodes", "-in", str(path), "-passin", f"pass:{wrong}")
        assert bad.returncode != 0
        assert "BEGIN PRIVATE KEY" not in bad.stdout

    loaded = pkcs12.load_pkcs12(path.read_bytes(), PASSPHRASE.encode())
    assert loaded.key is not None
    assert same_public_key(loaded.key, leaf_key)  # type: ignore[arg-type]
    assert loaded.cert is not None
    assert loaded.cert.certificate == leaf
    assert loaded.cert.friendly_name == b"My Server"
    assert [c.certificate for c in loaded.additional_certs] == [issuing]


def test_pkcs12_non_ascii_passphrase(chain: Chain, tmp_path: Path) -> None:
    _, issuing, leaf, leaf_key = chain
    # Non-BMP characters too: the MAC uses UTF-16, the bags UTF-8, as OpenSSL 3 does.
    passphrase = "Grüße aus Köln ✓ 🔑"
    path = tmp_path / "bundle.p12"
    path.write_bytes(pkcs12_bundle(leaf_key, leaf, [issuing], passphrase, ""))
    passfile = tmp_path / "pass.txt"
    passfile.write_bytes(passphrase.encode("utf-8") + b"\n")
    ok = openssl("pkcs12", "-info", "-nodes", "-in", str(path), "-passin", f"file:{passfile}")
    assert ok.returncode == 0, ok.stderr
    assert "friendlyName" not in ok.stdout  # a blank name is left out
    assert pkcs12.load_pkcs12(path.read_bytes(), passphrase.encode()).key is not None


@pytest.mark.parametrize("passphrase", ["", "short", "x" * 11])
def test_pkcs12_short_passphrase_refused(chain: Chain, passphrase: str) -> None:
    _, issuing, leaf, leaf_key = chain
    with pytest.raises(WeakPassphrase) as exc:
        pkcs12_bundle(leaf_key, leaf, [issuing], passphrase, "name")
    assert str(exc.value) == "Passphrase must be at least 12 characters."


def test_pkcs12_key_mismatch_refused(chain: Chain, key_factory: KeyFactory) -> None:
    _, issuing, leaf, _ = chain
    with pytest.raises(KeyMismatch) as exc:
        pkcs12_bundle(key_factory("rsa-2048", 3), leaf, [issuing], PASSPHRASE, "name")
    assert str(exc.value) == "The private key does not belong to this certificate."


def test_mac_strengthening_checks_its_own_derivation(chain: Chain) -> None:
    # strengthen_mac first re-derives the writer's MAC; a mismatch (here: the wrong
    # passphrase) must fail loudly instead of producing a file nobody can open.
    _, issuing, leaf, leaf_key = chain
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(1000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(PASSPHRASE.encode())
    )
    pfx = pkcs12.serialize_key_and_certificates(b"n", leaf_key, leaf, [issuing], encryption)
    assert pkcs12.load_pkcs12(strengthen_mac(pfx, PASSPHRASE, 5000), PASSPHRASE.encode())
    with pytest.raises(PkiError, match="failed unexpectedly"):
        strengthen_mac(pfx, "another passphrase", 5000)
    with pytest.raises(PkiError, match="failed unexpectedly"):
        strengthen_mac(pfx[:-40], PASSPHRASE, 5000)
