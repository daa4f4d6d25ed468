"""End-entity issuance, checked with openssl, pkilint's RFC 5280 and CA/B Forum linters."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pkilint.cabf.serverauth.serverauth_constants import CertificateType

from app.pki.ca import create_intermediate_certificate, create_root_certificate
from app.pki.errors import (
    InvalidCAParameters,
    InvalidLeafProfile,
    PkiError,
    UnsupportedAlgorithm,
    UnsupportedKey,
    WeakKey,
)
from app.pki.keys import PrivateKey
from app.pki.leaf import LeafProfile, issue_leaf
from app.pki.subject import SubjectFields
from tests.pki.conftest import SIGNING_PAIRS, KeyFactory
from tests.pki.tooling import (
    lint_cabf_serverauth_cert,
    lint_pkix_cert,
    lint_pkix_chain,
    openssl,
    write_pem,
)

# A fixed clock keeps the BR rules pkilint applies stable: from 2026-03-15 a TLS leaf
# may be valid for at most 200 days (100 from 2027-03-15), judged by its notBefore.
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
ROOT_SUBJECT = SubjectFields("Example Root CA", organization="Example Ltd", country="DE")
ISSUING_SUBJECT = SubjectFields("Example Issuing CA", organization="Example Ltd", country="DE")

# CA/B Forum BR findings (ERROR) that every TLS leaf of this private CA has today. The
# test fails if any other ERROR/FATAL appears, and also if one of these stops appearing,
# so the list stays minimal.
CABF_ALLOWED_ERRORS = {
    # No certificatePolicies: a private CA asserts no CA/B Forum policy OID (it is not
    # audited against the BRs), and has no CPS of its own to point to yet.
    "cabf.serverauth.subscriber.certificate_policies_extension_absent",
    # No authorityInformationAccess: there is no OCSP responder nor a published
    # caIssuers URL yet; clients get the chain from the server's fullchain.
    "cabf.serverauth.subscriber.authority_info_access_extension_absent",
    # No CRL distribution point / OCSP URL: revocation publishing comes in a later step.
    "cabf.serverauth.subscriber.revocation_information_absent",
    # The same requirement from Microsoft's root program profile, which pkilint's CABF
    # linter also applies.
    "msft.end_entity.revocation_information_absent",
}
# Only for certificates that name internal hosts, the normal case for a private CA.
CABF_INTERNAL_NAME_ERRORS = {"cabf.internal_domain_name", "cabf.internal_ip_address"}

# Each issuer algorithm gets a leaf key of the other family, so every algorithm is used
# both to sign and to be certified, and every family pairing occurs.
LEAF_ALGORITHM = {
    "rsa-2048": "ec-256", "rsa-3072": "ec-384", "rsa-4096": "ec-521",
    "ec-256": "rsa-2048", "ec-384": "rsa-3072", "ec-521": "rsa-4096",
}


def _ext(cert: x509.Certificate, cls: type[x509.ExtensionType]) -> x509.Extension:
    return cert.extensions.get_extension_for_class(cls)


def _chain(
    key_factory: KeyFactory, algorithm: str = "ec-256", digest: str = "sha256",
    now: datetime = NOW, issuing_days: int = 1825,
) -> tuple[x509.Certificate, x509.Certificate, PrivateKey]:
    root_key = key_factory(algorithm, 0)
    root = create_root_certificate(ROOT_SUBJECT, root_key, digest, 3650, now=now)
    issuing_key = key_factory(algorithm, 1)
    issuing = create_intermediate_certificate(
        ISSUING_SUBJECT, issuing_key, digest, issuing_days, root, root_key, now=now
    )
    return root, issuing, issuing_key


def _openssl_verify(
    tmp_path: Path, root: x509.Certificate, issuing: x509.Certificate,
    leaf: x509.Certificate, purpose: str = "sslserver",
) -> None:
    at = int((NOW + timedelta(hours=1)).timestamp())
    result = openssl(
        "verify", "-x509_strict", "-attime", str(at), "-purpose", purpose,
        "-CAfile", str(write_pem(tmp_path / "root.pem", root)),
        "-untrusted", str(write_pem(tmp_path / "issuing.pem", issuing)),
        str(write_pem(tmp_path / "leaf.pem", leaf)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith(": OK")


def _error_codes(findings: list[tuple[str, str, str]]) -> set[str]:
    return {code for severity, code, _ in findings if severity in {"ERROR", "FATAL"}}


@pytest.mark.parametrize(("algorithm", "digest"), SIGNING_PAIRS)
def test_tls_leaf_passes_openssl_pkilint_and_cabf(
    key_factory: KeyFactory, algorithm: str, digest: str, tmp_path: Path
) -> None:
    root, issuing, issuing_key = _chain(key_factory, algorithm, digest)
    leaf_key = key_factory(LEAF_ALGORITHM[algorithm], 2)
    is_rsa = isinstance(leaf_key, rsa.RSAPrivateKey)
    profile = LeafProfile(
        SubjectFields("www.example.com"),
        dns_names=("example.com", "api.example.com"),
        # RSA TLS keys may still be used for RSA key transport; EC keys only sign.
        key_usage=("digitalSignature", "keyEncipherment") if is_rsa else ("digitalSignature",),
        validity_days=200,
        digest=digest,
    )
    leaf = issue_leaf(profile, leaf_key.public_key(), issuing, issuing_key, now=NOW)

    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == digest
    _openssl_verify(tmp_path, root, issuing, leaf)
    # RFC 5280: nothing at WARNING or above (only the INFO "SKI uses method 1").
    assert lint_pkix_cert(leaf) == []
    assert lint_pkix_chain(issuing, leaf) == []
    # CA/B Forum BRs, type detected as the CLI's -d does (DV: no policy OID).
    assert _error_codes(lint_cabf_serverauth_cert(leaf)) == CABF_ALLOWED_ERRORS


def test_ov_subject_under_ov_rules(key_factory: KeyFactory, tmp_path: Path) -> None:
    root, issuing, issuing_key = _chain(key_factory)
    # No OU: the BRs have prohibited it in TLS certificates since September 2022.
    subject = SubjectFields(
        "shop.example.com", organization="Example Ltd", country="DE", state="Berlin",
        locality="Berlin",
    )
    leaf = issue_leaf(
        LeafProfile(subject, validity_days=200), key_factory("ec-384", 2).public_key(),
        issuing, issuing_key, now=NOW,
    )
    _openssl_verify(tmp_path, root, issuing, leaf)
    assert lint_pkix_cert(leaf) == []
    findings = lint_cabf_serverauth_cert(leaf, CertificateType.OV_FINAL_CERTIFICATE)
    assert _error_codes(findings) == CABF_ALLOWED_ERRORS
    # The same subject under the DV rules (what -d detects) is refused for having O.
    assert "cabf.serverauth.dv.unknown_attribute_present" in _error_codes(
        lint_cabf_serverauth_cert(leaf)
    )
    with_ou = issue_leaf(
        LeafProfile(replace(subject, organizational_unit="Web"), validity_days=200),
        key_factory("ec-384", 2).public_key(), issuing, issuing_key, now=NOW,
    )
    assert _error_codes(
        lint_cabf_serverauth_cert(with_ou, CertificateType.OV_FINAL_CERTIFICATE)
    ) == CABF_ALLOWED_ERRORS | {"cabf.serverauth.ov.organizational_unit_name_attribute_present"}


def test_internal_names_only_add_the_internal_name_findings(
    key_factory: KeyFactory, tmp_path: Path
) -> None:
    root, issuing, issuing_key = _chain(key_factory)
    profile = LeafProfile(
        SubjectFields("app.corp.internal"), dns_names=("db.lan", "intranet"),
        ip_addresses=("10.0.0.1", "fd00::1"), validity_days=200,
    )
    leaf = issue_leaf(profile, key_factory("ec-256", 2).public_key(), issuing, issuing_key,
                      now=NOW)
    _openssl_verify(tmp_path, root, issuing, leaf)
    # pkilint's RFC 5280 linter wants at least two labels; browsers accept "intranet".
    assert [message for _, _, message in lint_pkix_cert(leaf)] == [
        'Invalid domain name syntax: "intranet" @ '
        "certificate.tbsCertificate.extensions.5.extnValue.subjectAltName.2.dNSName"
    ]
    codes = _error_codes(lint_cabf_serverauth_cert(leaf))
    assert codes == CABF_ALLOWED_ERRORS | CABF_INTERNAL_NAME_ERRORS


def test_wildcard_leaf(key_factory: KeyFactory, tmp_path: Path) -> None:
    root, issuing, issuing_key = _chain(key_factory)
    leaf = issue_leaf(
        LeafProfile(SubjectFields("*.example.com"), dns_names=("example.com",),
                    validity_days=200),
        key_factory("ec-256", 2).public_key(), issuing, issuing_key, now=NOW,
    )
    assert list(_ext(leaf, x509.SubjectAlternativeName).value) == [
        x509.DNSName("*.example.com"), x509.DNSName("example.com"),
    ]
    _openssl_verify(tmp_path, root, issuing, leaf)
    # RFC 5280 itself knows no wildcards, so pkilint's pure-PKIX linter calls "*." bad
    # syntax; the BRs (and RFC 6125) define them, and the CABF linter accepts them.
    assert [code for _, code, _ in lint_pkix_cert(leaf)] == ["pkix.invalid_domain_name_syntax"]
    assert _error_codes(lint_cabf_serverauth_cert(leaf)) == CABF_ALLOWED_ERRORS


@pytest.mark.parametrize(
    ("issued_at", "days", "limit_code"),
    [
        (NOW, 200, None),
        (NOW, 201, "cabf.serverauth.certificate_validity_period_exceeds_200_days"),
        (datetime(2026, 3, 1, tzinfo=UTC), 398, None),
        (datetime(2026, 3, 1, tzinfo=UTC), 399,
         "cabf.serverauth.certificate_validity_period_exceeds_398_days"),
    ],
)
def test_validity_counts_inclusively_to_the_exact_br_limit(
    key_factory: KeyFactory, issued_at: datetime, days: int, limit_code: str | None
) -> None:
    # The one-minute backdate comes out of the requested days, so "200 days" is exactly
    # the BR maximum (which counts notAfter - notBefore + 1 s), not 200 days + 61 s.
    _, issuing, issuing_key = _chain(key_factory, now=issued_at)
    leaf = issue_leaf(
        LeafProfile(SubjectFields("www.example.com"), validity_days=days),
        key_factory("ec-256", 2).public_key(), issuing, issuing_key, now=issued_at,
    )
    period = leaf.not_valid_after_utc - leaf.not_valid_before_utc + timedelta(seconds=1)
    assert period == timedelta(days=days)
    codes = _error_codes(lint_cabf_serverauth_cert(leaf)) - CABF_ALLOWED_ERRORS
    assert codes == ({limit_code} if limit_code else set())


def test_extensions_are_exactly_the_profile(key_factory: KeyFactory) -> None:
    _, issuing, issuing_key = _chain(key_factory, "ec-384", "sha384")
    leaf_key = key_factory("rsa-2048", 2)
    profile = LeafProfile(
        SubjectFields("WWW.Example.COM", organization="Example Ltd", country="DE"),
        dns_names=("api.example.com", "Example.com", "api.example.com"),
        ip_addresses=("192.0.2.7", "2001:DB8:0:0::1"),
        emails=("Ops@Example.com",),
        key_usage=("digitalSignature", "keyEncipherment"),
        # Not serverAuth: the TLS profile allows no e-mail SAN (tests/domain/test_tls_profile.py).
        extended_key_usage=("clientAuth", "emailProtection"),
        validity_days=90,
        digest="sha384",
    )
    leaf = issue_leaf(profile, leaf_key.public_key(), issuing, issuing_key, now=NOW)

    assert leaf.version is x509.Version.v3
    assert 2**63 < leaf.serial_number < 2**159  # >= 64 random bits, positive
    assert leaf.issuer == issuing.subject
    # The host-name CN is canonicalised so it is a character-for-character SAN entry.
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "www.example.com"
    )
    for attr in leaf.subject:
        expected = (
            _ASN1Type.PrintableString if attr.oid == NameOID.COUNTRY_NAME
            else _ASN1Type.UTF8String
        )
        assert attr._type == expected, attr.oid

    basic = _ext(leaf, x509.BasicConstraints)
    assert basic.critical
    assert basic.value == x509.BasicConstraints(ca=False, path_length=None)
    usage = _ext(leaf, x509.KeyUsage)
    assert usage.critical
    assert usage.value == x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=True,
        data_encipherment=False, key_agreement=False, key_cert_sign=False,
        crl_sign=False, encipher_only=False, decipher_only=False,
    )
    eku = _ext(leaf, x509.ExtendedKeyUsage)
    assert not eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.CLIENT_AUTH,
                              ExtendedKeyUsageOID.EMAIL_PROTECTION]
    ski = _ext(leaf, x509.SubjectKeyIdentifier)
    assert not ski.critical
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key())
    aki = _ext(leaf, x509.AuthorityKeyIdentifier)
    assert not aki.critical
    assert aki.value.key_identifier == _ext(issuing, x509.SubjectKeyIdentifier).value.digest

    san = _ext(leaf, x509.SubjectAlternativeName)
    assert not san.critical
    assert list(san.value) == [
        x509.DNSName("www.example.com"),  # the CN, first
        x509.DNSName("api.example.com"),
        x509.DNSName("example.com"),
        x509.IPAddress(ipaddress.ip_address("192.0.2.7")),
        x509.IPAddress(ipaddress.ip_address("2001:db8::1")),
        x509.RFC822Name("Ops@Example.com"),
    ]
    assert leaf.signature_hash_algorithm is not None
    assert leaf.signature_hash_algorithm.name == "sha384"
    assert leaf.not_valid_before_utc == NOW - timedelta(minutes=1)
    assert leaf.not_valid_after_utc == NOW - timedelta(minutes=1, seconds=1) + timedelta(90)
    assert len(leaf.extensions) == 6


@pytest.mark.parametrize(
    ("common_name", "eku", "names", "expected"),
    [
        ("10.1.2.3", ("serverAuth",), {}, [x509.IPAddress(ipaddress.ip_address("10.1.2.3"))]),
        ("intranet", ("serverAuth",), {}, [x509.DNSName("intranet")]),
        ("www.example.com", ("serverAuth",), {"dns_names": ("WWW.example.com",)},
         [x509.DNSName("www.example.com")]),
        ("Jane Doe", ("clientAuth",), {"emails": ("jane@example.com",)},
         [x509.RFC822Name("jane@example.com")]),
        ("alice", ("clientAuth",), {}, None),
        ("Jane Doe", ("clientAuth", "emailProtection"), {}, None),
    ],
)
def test_common_name_goes_into_san_when_it_is_a_host(
    key_factory: KeyFactory, common_name: str, eku: tuple[str, ...],
    names: dict[str, tuple[str, ...]], expected: list[x509.GeneralName] | None,
) -> None:
    _, issuing, issuing_key = _chain(key_factory)
    profile = LeafProfile(SubjectFields(common_name), extended_key_usage=eku, **names)
    leaf = issue_leaf(profile, key_factory("ec-256", 2).public_key(), issuing, issuing_key,
                      now=NOW)
    if expected is None:
        # No name at all: an empty SAN is not allowed, so the extension is left out.
        with pytest.raises(x509.ExtensionNotFound):
            _ext(leaf, x509.SubjectAlternativeName)
    else:
        assert list(_ext(leaf, x509.SubjectAlternativeName).value) == expected
    # pkilint's RFC 5280 linter wants at least two labels; browsers accept "intranet".
    single_label = ["pkix.invalid_domain_name_syntax"] if common_name == "intranet" else []
    assert [code for _, code, _ in lint_pkix_cert(leaf)] == single_label


def test_client_and_email_leaf_verifies(key_factory: KeyFactory, tmp_path: Path) -> None:
    root, issuing, issuing_key = _chain(key_factory, "rsa-3072", "sha256")
    profile = LeafProfile(
        SubjectFields("Jane Doe", organization="Example Ltd"),
        emails=("jane@example.com",),
        key_usage=("digitalSignature", "nonRepudiation", "keyAgreement"),
        extended_key_usage=("clientAuth", "emailProtection"),
    )
    leaf = issue_leaf(profile, key_factory("ec-256", 2).public_key(), issuing, issuing_key,
                      now=NOW)
    _openssl_verify(tmp_path, root, issuing, leaf, purpose="sslclient")
    _openssl_verify(tmp_path, root, issuing, leaf, purpose="smimesign")
    assert lint_pkix_cert(leaf) == []


def test_code_signing_and_time_stamping_leaves(key_factory: KeyFactory, tmp_path: Path) -> None:
    root, issuing, issuing_key = _chain(key_factory)
    signer = issue_leaf(
        LeafProfile(SubjectFields("Example Release Signing", organization="Example Ltd"),
                    extended_key_usage=("codeSigning",)),
        key_factory("ec-384", 2).public_key(), issuing, issuing_key, now=NOW,
    )
    assert not _ext(signer, x509.ExtendedKeyUsage).critical
    assert lint_pkix_cert(signer) == []
    # OpenSSL 3.0 has no code-signing purpose (3.2 added one); check the path only.
    _openssl_verify(tmp_path, root, issuing, signer, purpose="any")

    tsa = issue_leaf(
        LeafProfile(SubjectFields("Example TSA", organization="Example Ltd"),
                    extended_key_usage=("timeStamping",)),
        key_factory("ec-384", 2).public_key(), issuing, issuing_key, now=NOW,
    )
    # RFC 3161 2.3: the sole purpose, in a critical extension (OpenSSL checks both).
    eku = _ext(tsa, x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    assert lint_pkix_cert(tsa) == []
    _openssl_verify(tmp_path, root, issuing, tsa, purpose="timestampsign")


def test_validity_clamped_to_issuer(key_factory: KeyFactory) -> None:
    _, issuing, issuing_key = _chain(key_factory, issuing_days=30)
    leaf = issue_leaf(
        LeafProfile(SubjectFields("www.example.com")), key_factory("ec-256", 2).public_key(),
        issuing, issuing_key, now=NOW + timedelta(days=1),
    )
    assert leaf.not_valid_after_utc == issuing.not_valid_after_utc
    # Issued 30 s "before" the issuer (another node's clock): notBefore is clamped too.
    early = issue_leaf(
        LeafProfile(SubjectFields("www.example.com"), validity_days=10),
        key_factory("ec-256", 2).public_key(), issuing, issuing_key,
        now=NOW - timedelta(seconds=30),
    )
    assert early.not_valid_before_utc == issuing.not_valid_before_utc


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "usage", "message"),
    [
        ("ec-256", "keyEncipherment",
         "The key usage keyEncipherment is not possible with an elliptic-curve key."),
        ("ec-384", "dataEncipherment",
         "The key usage dataEncipherment is not possible with an elliptic-curve key."),
        ("rsa-2048", "keyAgreement",
         "The key usage keyAgreement is not possible with an RSA key."),
    ],
)
def test_usage_impossible_for_key_refused(
    key_factory: KeyFactory, algorithm: str, usage: str, message: str
) -> None:
    _, issuing, issuing_key = _chain(key_factory)
    # clientAuth: the TLS server profile would refuse dataEncipherment before the key check.
    profile = LeafProfile(SubjectFields("www.example.com"), key_usage=("digitalSignature", usage),
                          extended_key_usage=("clientAuth",))
    with pytest.raises(InvalidLeafProfile) as exc:
        issue_leaf(profile, key_factory(algorithm, 2).public_key(), issuing, issuing_key,
                   now=NOW)
    assert str(exc.value) == message
    assert exc.value.field == "key_usage"


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"key_usage": ("digitalSignature", "keyCertSign")}, "key_usage",
         "Unknown key usage 'keyCertSign'; choose from digitalSignature, nonRepudiation, "
         "keyEncipherment, dataEncipherment, keyAgreement."),
        ({"extended_key_usage": ("serverauth",)}, "extended_key_usage",
         "Unknown extended key usage 'serverauth'; choose from serverAuth, clientAuth, "
         "codeSigning, emailProtection, timeStamping."),
        ({"key_usage": ()}, "key_usage", "Choose at least one key usage."),
        ({"extended_key_usage": ("timeStamping", "codeSigning")}, "extended_key_usage",
         "A time-stamping certificate cannot have other extended key usages."),
        ({"validity_days": 0}, "validity_days",
         "Validity must be between 1 and 3650 days (10 years)."),
        ({"validity_days": 3651}, "validity_days",
         "Validity must be between 1 and 3650 days (10 years)."),
        ({"validity_days": True}, "validity_days",
         "Validity must be between 1 and 3650 days (10 years)."),
        ({"dns_names": "example.com"}, "dns_names", "DNS names must be a list of text values."),
        ({"dns_names": ("bücher.example",)}, "dns_names",
         "'bücher.example' is not a DNS name in ASCII (A-label) form."),
        ({"dns_names": ("a b.example",)}, "dns_names",
         "'a b.example' is not a DNS name in ASCII (A-label) form."),
        ({"ip_addresses": ("10.0.0.256",)}, "ip_addresses", "'10.0.0.256' is not an IP address."),
        ({"emails": ("no-at-sign",)}, "emails", "'no-at-sign' is not an ASCII e-mail address."),
    ],
)
def test_bad_profile_refused_on_construction(
    kwargs: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidLeafProfile) as exc:
        LeafProfile(SubjectFields("www.example.com"), **kwargs)  # type: ignore[arg-type]
    assert str(exc.value) == message
    assert exc.value.field == field
    assert isinstance(exc.value, PkiError)


def test_validity_bounds_are_inclusive() -> None:
    assert LeafProfile(SubjectFields("a.example"), validity_days=1)
    assert LeafProfile(SubjectFields("a.example"), validity_days=3650)


def test_unknown_digest_refused() -> None:
    with pytest.raises(UnsupportedAlgorithm, match="'sha1' is not supported"):
        LeafProfile(SubjectFields("www.example.com"), digest="sha1")


@pytest.mark.parametrize(
    ("make_key", "error", "message"),
    [
        (lambda: rsa.generate_private_key(65537, 1024), WeakKey,
         "RSA keys must be at least 2048 bits; this certificate has a 1024-bit key."),
        (lambda: ec.generate_private_key(ec.SECP256K1()), UnsupportedKey,
         "The certificate uses the curve secp256k1; only P-256, P-384 and P-521 are "
         "accepted."),
        (ed25519.Ed25519PrivateKey.generate, UnsupportedKey,
         "The certificate uses an Ed25519 key; only RSA and elliptic-curve keys "
         "(P-256, P-384, P-521) are accepted."),
    ],
)
def test_unacceptable_subject_key_refused(
    key_factory: KeyFactory, make_key: object, error: type[PkiError], message: str
) -> None:
    _, issuing, issuing_key = _chain(key_factory)
    key = make_key()  # type: ignore[operator]
    with pytest.raises(error) as exc:
        issue_leaf(LeafProfile(SubjectFields("www.example.com")), key.public_key(),
                   issuing, issuing_key, now=NOW)
    assert str(exc.value) == message


def test_issuer_problems_refused(key_factory: KeyFactory) -> None:
    _, issuing, issuing_key = _chain(key_factory, issuing_days=30)
    profile = LeafProfile(SubjectFields("www.example.com"))
    public_key = key_factory("ec-256", 2).public_key()
    cases = [
        ((issuing, key_factory("ec-256", 0), NOW),
         "The issuer's private key does not match the issuing certificate."),
        ((issuing, issuing_key, NOW + timedelta(days=31)), "The issuing certificate has expired."),
        ((issuing, issuing_key, NOW - timedelta(hours=1)),
         "The issuing certificate is not valid yet."),
    ]
    for (issuer, key, at), message in cases:
        with pytest.raises(InvalidCAParameters) as exc:
            issue_leaf(profile, public_key, issuer, key, now=at)
        assert str(exc.value) == message
        assert exc.value.field == "issuer"

    leaf_key = key_factory("ec-256", 2)
    leaf = issue_leaf(profile, leaf_key.public_key(), issuing, issuing_key, now=NOW)
    with pytest.raises(InvalidCAParameters, match="not a certificate authority"):
        issue_leaf(LeafProfile(SubjectFields("other.example.com")),
                   key_factory("ec-384", 2).public_key(), leaf, leaf_key, now=NOW)
    with pytest.raises(InvalidCAParameters, match="time zone"):
        issue_leaf(profile, public_key, issuing, issuing_key, now=datetime(2026, 6, 1))


def test_issuer_facts_made_once_keep_every_check(key_factory: KeyFactory) -> None:
    """A batch makes an issuer's facts once (``issuer_facts``) and passes them to each
    leaf: the leaves are the same as without, the time is still checked per leaf, the
    leaf's own-key and own-name rules still hold, and facts of another CA are refused."""
    from app.pki.issuance import issuer_facts

    root, issuing, issuing_key = _chain(key_factory, issuing_days=30)
    facts = issuer_facts(issuing, issuing_key, NOW)
    profile = LeafProfile(SubjectFields("www.example.com"), dns_names=("api.example.com",))
    public_key = key_factory("ec-256", 2).public_key()
    with_facts = issue_leaf(profile, public_key, issuing, issuing_key, now=NOW, issuer=facts)
    without = issue_leaf(profile, public_key, issuing, issuing_key, now=NOW)
    for ext in (x509.AuthorityKeyIdentifier, x509.SubjectAlternativeName,
                x509.SubjectKeyIdentifier):
        assert with_facts.extensions.get_extension_for_class(ext) == \
            without.extensions.get_extension_for_class(ext)
    assert with_facts.issuer == without.issuer and with_facts.subject == without.subject
    with pytest.raises(InvalidCAParameters, match="has expired"):
        issue_leaf(profile, public_key, issuing, issuing_key,
                   now=NOW + timedelta(days=31), issuer=facts)
    with pytest.raises(InvalidCAParameters, match="not valid yet"):
        issue_leaf(profile, public_key, issuing, issuing_key,
                   now=NOW - timedelta(hours=1), issuer=facts)
    with pytest.raises(InvalidLeafProfile, match="needs its own key"):
        issue_leaf(profile, issuing_key.public_key(), issuing, issuing_key, now=NOW,
                   issuer=facts)
    same_name = SubjectFields("EXAMPLE ISSUING CA", organization="Example Ltd", country="DE")
    with pytest.raises(InvalidLeafProfile, match="must differ from the issuing CA"):
        issue_leaf(LeafProfile(same_name, extended_key_usage=("clientAuth",)), public_key,
                   issuing, issuing_key, now=NOW, issuer=facts)
    with pytest.raises(ValueError, match="another issuing CA"):
        issue_leaf(profile, public_key, root, issuing_key, now=NOW, issuer=facts)
    with pytest.raises(InvalidCAParameters, match="does not match"):
        issuer_facts(issuing, key_factory("ec-256", 0), NOW)


def test_issuer_key_or_name_reused_refused(key_factory: KeyFactory) -> None:
    _, issuing, issuing_key = _chain(key_factory)
    with pytest.raises(InvalidLeafProfile, match="needs its own key"):
        issue_leaf(LeafProfile(SubjectFields("www.example.com")), issuing_key.public_key(),
                   issuing, issuing_key, now=NOW)
    same_name = SubjectFields("EXAMPLE ISSUING CA", organization="Example Ltd", country="DE")
    with pytest.raises(InvalidLeafProfile) as exc:
        issue_leaf(LeafProfile(same_name, extended_key_usage=("clientAuth",)),
                   key_factory("ec-256", 2).public_key(), issuing, issuing_key, now=NOW)
    assert str(exc.value) == "The certificate's subject must differ from the issuing CA's name."


def test_cabf_helper_is_not_vacuous(key_factory: KeyFactory) -> None:
    # The allow-list comparison means something only if the helper reports real errors.
    _, issuing, issuing_key = _chain(key_factory)
    leaf = issue_leaf(
        LeafProfile(SubjectFields("www.example.com"), validity_days=3650),
        key_factory("ec-256", 2).public_key(), issuing, issuing_key, now=NOW,
    )
    assert "cabf.serverauth.certificate_validity_period_exceeds_200_days" in _error_codes(
        lint_cabf_serverauth_cert(leaf)
    )
