"""Root and intermediate CA creation, checked with openssl and pkilint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from app.pki.ca import (
    MAX_CA_VALIDITY_DAYS,
    create_intermediate_certificate,
    create_root_certificate,
)
from app.pki.encoding import certificate_to_der
from app.pki.errors import InvalidCAParameters, PkiError, UnsupportedAlgorithm
from app.pki.subject import SubjectFields
from tests.pki.conftest import SIGNING_PAIRS, KeyFactory
from tests.pki.tooling import lint_pkix_cert, lint_pkix_chain, openssl, write_pem

ROOT_SUBJECT = SubjectFields(
    "Example Root CA", organization="Example Ltd", organizational_unit="PKI",
    country="DE", state="Berlin", locality="Berlin",
)
INTERMEDIATE_SUBJECT = SubjectFields(
    "Example Issuing CA 1", organization="Example Ltd", country="DE"
)
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def _ext(cert: x509.Certificate, cls: type[x509.ExtensionType]) -> x509.Extension:
    return cert.extensions.get_extension_for_class(cls)


def _assert_ca_profile(cert: x509.Certificate, path_length: int | None) -> None:
    basic = _ext(cert, x509.BasicConstraints)
    assert basic.critical
    assert basic.value.ca is True
    assert basic.value.path_length == path_length

    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value == x509.KeyUsage(
        digital_signature=False, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
        encipher_only=False, decipher_only=False,
    )

    ski = _ext(cert, x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    assert not _ext(cert, x509.AuthorityKeyIdentifier).critical

    # random_serial_number() draws 159 random bits; being below 2**63 has probability
    # 2**-96, so this checks "at least 64 bits of entropy" without ever flaking.
    assert 2**63 < cert.serial_number < 2**159
    assert cert.version is x509.Version.v3


def _aki_keyid(cert: x509.Certificate) -> bytes | None:
    return _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier


def _ski(cert: x509.Certificate) -> bytes:
    return _ext(cert, x509.SubjectKeyIdentifier).value.digest


def _make_pair(
    key_factory: KeyFactory, algorithm: str, digest: str, **root_kwargs: object
) -> tuple[x509.Certificate, x509.Certificate]:
    root_key = key_factory(algorithm, 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, digest, 3650, **root_kwargs)
    intermediate = create_intermediate_certificate(
        INTERMEDIATE_SUBJECT, key_factory(algorithm, 1), digest, 1825, root, root_key
    )
    return root, intermediate


@pytest.mark.parametrize(("algorithm", "digest"), SIGNING_PAIRS)
def test_root_and_intermediate_pass_openssl_and_pkilint(
    key_factory: KeyFactory, algorithm: str, digest: str, tmp_path: Path
) -> None:
    root, intermediate = _make_pair(key_factory, algorithm, digest)

    _assert_ca_profile(root, path_length=None)
    _assert_ca_profile(intermediate, path_length=0)
    assert root.issuer == root.subject
    assert intermediate.issuer == root.subject
    assert _aki_keyid(root) == _ski(root)
    assert _aki_keyid(intermediate) == _ski(root)
    for cert in (root, intermediate):
        assert cert.signature_hash_algorithm is not None
        assert cert.signature_hash_algorithm.name == digest

    root_pem = write_pem(tmp_path / "root.pem", root)
    int_pem = write_pem(tmp_path / "intermediate.pem", intermediate)
    for target in (root_pem, int_pem):
        result = openssl("verify", "-x509_strict", "-CAfile", str(root_pem), str(target))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == f"{target}: OK"

    # pkilint reports only an INFO ("SKI uses method 1") for these certificates, so the
    # strictest useful bar holds: nothing at WARNING or above.
    assert lint_pkix_cert(root) == []
    assert lint_pkix_cert(intermediate) == []
    assert lint_pkix_chain(root, intermediate) == []


def test_mixed_families_and_three_levels_verify(
    key_factory: KeyFactory, tmp_path: Path
) -> None:
    root_key = key_factory("rsa-3072", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha384", 3650)
    policy_key = key_factory("ec-384", 2)
    policy_ca = create_intermediate_certificate(
        SubjectFields("Example Policy CA"), policy_key, "sha256", 3000, root, root_key,
        path_length=1,
    )
    issuing = create_intermediate_certificate(
        SubjectFields("Example Issuing CA 2"), key_factory("ec-256", 2), "sha384", 1000,
        policy_ca, policy_key,
    )
    _assert_ca_profile(policy_ca, path_length=1)
    _assert_ca_profile(issuing, path_length=0)
    assert _aki_keyid(issuing) == _ski(policy_ca)

    root_pem = write_pem(tmp_path / "root.pem", root)
    untrusted = write_pem(tmp_path / "untrusted.pem", policy_ca)
    target = write_pem(tmp_path / "issuing.pem", issuing)
    result = openssl(
        "verify", "-x509_strict", "-CAfile", str(root_pem), "-untrusted", str(untrusted),
        str(target),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert lint_pkix_chain(policy_ca, issuing) == []


def test_subject_string_types_in_der(key_factory: KeyFactory, tmp_path: Path) -> None:
    root, _ = _make_pair(key_factory, "ec-256", "sha256")
    for attr in root.subject:
        expected = (
            _ASN1Type.PrintableString if attr.oid == NameOID.COUNTRY_NAME
            else _ASN1Type.UTF8String
        )
        assert attr._type == expected, attr.oid

    # Cross-check the encoding with openssl's own ASN.1 parser.
    der = tmp_path / "root.der"
    der.write_bytes(certificate_to_der(root))
    parsed = openssl("asn1parse", "-inform", "DER", "-in", str(der)).stdout
    assert ":DE" in parsed
    assert "PRINTABLESTRING   :DE" in parsed
    assert "UTF8STRING        :Example Root CA" in parsed
    # Subject and issuer each hold one countryName; nothing else is PrintableString.
    assert parsed.count("PRINTABLESTRING") == 2


def test_validity_and_backdate_with_fixed_clock(key_factory: KeyFactory) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha256", 30, now=NOW)
    assert root.not_valid_before_utc == NOW - timedelta(minutes=1)
    assert root.not_valid_after_utc == NOW + timedelta(days=30)

    later = NOW + timedelta(days=1)
    intermediate = create_intermediate_certificate(
        INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 365, root, root_key,
        now=later,
    )
    assert intermediate.not_valid_before_utc == later - timedelta(minutes=1)
    # Requested one year, but the root ends after 30 days: clamped to the root's end.
    assert intermediate.not_valid_after_utc == root.not_valid_after_utc


def test_intermediate_not_before_never_precedes_issuer(key_factory: KeyFactory) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha256", 30, now=NOW)
    # Issued 30 s "before" the root (within its backdate, e.g. another node's clock):
    # the intermediate's own backdate would start before the root, so it is clamped.
    soon = NOW - timedelta(seconds=30)
    intermediate = create_intermediate_certificate(
        INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 10, root, root_key,
        now=soon,
    )
    assert intermediate.not_valid_before_utc == root.not_valid_before_utc
    assert intermediate.not_valid_after_utc == soon + timedelta(days=10)


def test_serials_differ(key_factory: KeyFactory) -> None:
    key = key_factory("ec-256", 0)
    serials = {create_root_certificate(ROOT_SUBJECT, key, "sha256", 1).serial_number
               for _ in range(5)}
    assert len(serials) == 5


def test_aki_falls_back_to_issuer_key_when_issuer_has_no_ski(
    key_factory: KeyFactory, tmp_path: Path
) -> None:
    # An imported legacy root without SKI must still be usable as an issuer.
    root_key = key_factory("ec-384", 0)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Legacy Root")])
    legacy = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    intermediate = create_intermediate_certificate(
        INTERMEDIATE_SUBJECT, key_factory("ec-384", 1), "sha384", 365, legacy, root_key,
        now=NOW,
    )
    assert _aki_keyid(intermediate) == x509.SubjectKeyIdentifier.from_public_key(
        root_key.public_key()
    ).digest


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, -1, MAX_CA_VALIDITY_DAYS + 1, 99999])
def test_root_validity_out_of_range(key_factory: KeyFactory, days: int) -> None:
    with pytest.raises(InvalidCAParameters) as exc:
        create_root_certificate(ROOT_SUBJECT, key_factory("ec-256"), "sha256", days)
    assert str(exc.value) == "Validity must be between 1 and 9125 days (25 years)."
    assert exc.value.field == "validity_days"


def test_validity_bounds_are_inclusive(key_factory: KeyFactory) -> None:
    key = key_factory("ec-256")
    assert create_root_certificate(ROOT_SUBJECT, key, "sha256", 1, now=NOW)
    root = create_root_certificate(ROOT_SUBJECT, key, "sha256", MAX_CA_VALIDITY_DAYS, now=NOW)
    assert root.not_valid_after_utc == NOW + timedelta(days=9125)


def test_intermediate_validity_out_of_range(key_factory: KeyFactory) -> None:
    root, _ = _make_pair(key_factory, "ec-256", "sha256")
    with pytest.raises(InvalidCAParameters, match="between 1 and 9125 days"):
        create_intermediate_certificate(
            INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 0, root,
            key_factory("ec-256", 0),
        )


def test_unknown_digest_refused(key_factory: KeyFactory) -> None:
    with pytest.raises(UnsupportedAlgorithm, match="'md5' is not supported"):
        create_root_certificate(ROOT_SUBJECT, key_factory("ec-256"), "md5", 365)


def test_naive_datetime_refused(key_factory: KeyFactory) -> None:
    with pytest.raises(InvalidCAParameters, match="time zone"):
        create_root_certificate(
            ROOT_SUBJECT, key_factory("ec-256"), "sha256", 365, now=datetime(2025, 1, 1)
        )


def test_weak_key_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(UnsupportedAlgorithm) as exc:
        create_root_certificate(ROOT_SUBJECT, weak, "sha256", 365)
    assert str(exc.value) == (
        "The certificate authority key (RSA 1024-bit) is not one of the supported key "
        "algorithms."
    )


def test_issuer_not_ca_refused(key_factory: KeyFactory) -> None:
    key = key_factory("ec-256", 0)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not A CA")])
    leaf = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(InvalidCAParameters) as exc:
        create_intermediate_certificate(
            INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 30, leaf, key, now=NOW
        )
    assert str(exc.value) == "The issuing certificate is not a certificate authority."
    assert exc.value.field == "issuer"


def test_issuer_without_keycertsign_refused(key_factory: KeyFactory) -> None:
    key = key_factory("ec-256", 0)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CRL Only")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, False, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    with pytest.raises(InvalidCAParameters, match="not allowed to sign certificates"):
        create_intermediate_certificate(
            INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 30, cert, key, now=NOW
        )


def test_mismatched_issuer_key_refused(key_factory: KeyFactory) -> None:
    root = create_root_certificate(ROOT_SUBJECT, key_factory("ec-256", 0), "sha256", 365)
    with pytest.raises(InvalidCAParameters) as exc:
        create_intermediate_certificate(
            INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 30, root,
            key_factory("ec-256", 2),
        )
    assert str(exc.value) == "The issuer's private key does not match the issuing certificate."


def test_expired_issuer_refused(key_factory: KeyFactory) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha256", 1, now=NOW)
    with pytest.raises(InvalidCAParameters) as exc:
        create_intermediate_certificate(
            INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 30, root, root_key,
            now=NOW + timedelta(days=2),
        )
    assert str(exc.value) == "The issuing certificate has expired."


def test_not_yet_valid_issuer_refused(key_factory: KeyFactory) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha256", 30, now=NOW)
    with pytest.raises(InvalidCAParameters) as exc:
        create_intermediate_certificate(
            INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 30, root, root_key,
            now=NOW - timedelta(hours=1),
        )
    assert str(exc.value) == "The issuing certificate is not valid yet."


@pytest.mark.parametrize(
    "subject",
    [ROOT_SUBJECT, SubjectFields(
        "EXAMPLE ROOT CA", organization="example ltd", organizational_unit="pki",
        country="DE", state="berlin", locality="BERLIN",
    )],
)
def test_intermediate_with_issuer_name_refused(
    key_factory: KeyFactory, subject: SubjectFields
) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha256", 30)
    with pytest.raises(InvalidCAParameters) as exc:
        create_intermediate_certificate(
            subject, key_factory("ec-256", 1), "sha256", 30, root, root_key
        )
    assert str(exc.value) == "The intermediate CA's name must differ from the issuing CA's name."


def test_intermediate_reusing_issuer_key_refused(key_factory: KeyFactory) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha256", 30)
    with pytest.raises(InvalidCAParameters, match="needs its own key"):
        create_intermediate_certificate(
            INTERMEDIATE_SUBJECT, root_key, "sha256", 30, root, root_key
        )


@pytest.mark.parametrize("path_length", [-1, True, 1.5])
def test_bad_path_length_refused(key_factory: KeyFactory, path_length: object) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha256", 30)
    with pytest.raises(InvalidCAParameters, match="Path length must be zero or a positive"):
        create_intermediate_certificate(
            INTERMEDIATE_SUBJECT, key_factory("ec-256", 1), "sha256", 30, root, root_key,
            path_length=path_length,  # type: ignore[arg-type]
        )


def test_path_length_must_fit_under_issuer(key_factory: KeyFactory) -> None:
    root_key = key_factory("ec-256", 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, "sha256", 30)
    issuing_key = key_factory("ec-256", 1)
    issuing = create_intermediate_certificate(
        INTERMEDIATE_SUBJECT, issuing_key, "sha256", 30, root, root_key
    )
    with pytest.raises(InvalidCAParameters) as exc:
        create_intermediate_certificate(
            SubjectFields("Sub CA"), key_factory("ec-256", 2), "sha256", 30, issuing,
            issuing_key,
        )
    assert str(exc.value) == (
        "The issuing CA may not sign other certificate authorities (its path length is 0)."
    )

    policy = create_intermediate_certificate(
        SubjectFields("Policy CA"), issuing_key, "sha256", 30, root, root_key, path_length=1
    )
    with pytest.raises(InvalidCAParameters, match="path length must be below 1"):
        create_intermediate_certificate(
            SubjectFields("Sub CA"), key_factory("ec-256", 2), "sha256", 30, policy,
            issuing_key, path_length=1,
        )


def test_errors_share_the_root_class() -> None:
    assert issubclass(InvalidCAParameters, PkiError)
    assert issubclass(UnsupportedAlgorithm, PkiError)



def test_lint_helpers_are_not_vacuous(key_factory: KeyFactory) -> None:
    # The empty-findings assertions above mean something only if the helpers do report.
    key = key_factory("ec-256", 0)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sloppy CA")])
    sloppy = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW).not_valid_after(NOW + timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=False)
        .sign(key, hashes.SHA256())
    )
    codes = {code for _, code, _ in lint_pkix_cert(sloppy)}
    assert "pkix.basic_constraints_extension_not_critical" in codes
    assert "pkix.ca_certificate_no_ku_extension" in codes

    _, intermediate = _make_pair(key_factory, "ec-256", "sha256")
    other_root, _ = _make_pair(key_factory, "ec-384", "sha384")
    codes = {code for _, code, _ in lint_pkix_chain(other_root, intermediate)}
    assert "pkix.signature_verification_failed" in codes
