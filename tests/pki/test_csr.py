"""CSR parsing (the platform's only entry point for CSR bytes) and CSR building."""

from __future__ import annotations

import base64
import ipaddress
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from app.pki import csr as csr_module
from app.pki.csr import MAX_CSR_BYTES, ParsedCSR, build_csr, parse_csr
from app.pki.encoding import certificate_to_pem
from app.pki.errors import CSRTooLarge, InvalidCSR, PkiError, UnsupportedKey, WeakKey
from app.pki.keys import PrivateKey, private_key_to_pem, same_public_key
from app.pki.subject import SubjectFields
from tests.pki.conftest import KeyFactory
from tests.pki.tooling import openssl

NOT_A_CSR = "This is not a PEM or DER certificate signing request."
DAMAGED = (
    "The CSR's PEM text is damaged and cannot be decoded. Copy the whole block again, "
    "including the BEGIN and END lines."
)
DOES_NOT_VERIFY = (
    "The CSR's signature does not verify: it was altered or signed with a different key."
)
CN = x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com")


def _pem(request: x509.CertificateSigningRequest) -> bytes:
    return request.public_bytes(serialization.Encoding.PEM)


def _der(request: x509.CertificateSigningRequest) -> bytes:
    return request.public_bytes(serialization.Encoding.DER)


def _raw_csr(
    key: object, *extensions: x509.ExtensionType, name: x509.Name | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
) -> x509.CertificateSigningRequest:
    # Bypasses build_csr's own key checks, to make requests the parser must refuse.
    builder = x509.CertificateSigningRequestBuilder().subject_name(name or x509.Name([CN]))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    if algorithm is None and not isinstance(key, ed25519.Ed25519PrivateKey):
        algorithm = hashes.SHA256()
    return builder.sign(key, algorithm)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("algorithm", "family", "bits", "curve"),
    [
        ("rsa-2048", "rsa", 2048, None),
        ("ec-256", "ecdsa", 256, "secp256r1"),
        ("ec-384", "ecdsa", 384, "secp384r1"),
        ("ec-521", "ecdsa", 521, "secp521r1"),
    ],
)
@pytest.mark.parametrize("encoding", ["pem", "pem-text", "der"])
def test_good_csr_pem_and_der(
    key_factory: KeyFactory, algorithm: str, family: str, bits: int, curve: str | None,
    encoding: str,
) -> None:
    key = key_factory(algorithm)
    subject = SubjectFields(
        "ignored", organization="Example Ltd", organizational_unit="Web", country="DE",
        state="Berlin", locality="Berlin",
    )
    request = build_csr(
        key, "www.example.com", dns_names=("www.example.com", "example.com"),
        ip_addresses=("192.0.2.1",), emails=("ops@example.com",), subject=subject,
    )
    data: bytes | str = {
        "pem": _pem(request), "pem-text": _pem(request).decode(), "der": _der(request)
    }[encoding]
    parsed = parse_csr(data)

    assert parsed.subject == {
        "common_name": "www.example.com", "organization": "Example Ltd",
        "organizational_unit": "Web", "country": "DE", "state": "Berlin",
        "locality": "Berlin",
    }
    assert parsed.dns_names == ("www.example.com", "example.com")
    assert parsed.ip_addresses == ("192.0.2.1",)
    assert parsed.emails == ("ops@example.com",)
    assert (parsed.key_family, parsed.key_bits, parsed.curve) == (family, bits, curve)
    assert parsed.requests_ca is False
    assert same_public_key(parsed.public_key, key)
    assert parsed.pem == _pem(request).decode()


def test_openssl_made_csr_with_text_around_it(
    key_factory: KeyFactory, tmp_path: Path
) -> None:
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(private_key_to_pem(key_factory("ec-256")))
    result = openssl(
        "req", "-new", "-key", str(key_path), "-subj", "/C=DE/O=Example Ltd/CN=app.example.com",
        "-addext", "subjectAltName=DNS:app.example.com,IP:10.0.0.5", "-text",
    )
    assert result.returncode == 0, result.stderr
    assert "Certificate Request:" in result.stdout  # the -text dump precedes the PEM
    parsed = parse_csr(result.stdout)
    assert parsed.subject == {
        "country": "DE", "organization": "Example Ltd", "common_name": "app.example.com"
    }
    assert parsed.dns_names == ("app.example.com",)
    assert parsed.ip_addresses == ("10.0.0.5",)


def test_new_certificate_request_header(key_factory: KeyFactory) -> None:
    pem = _pem(build_csr(key_factory("ec-256"), "www.example.com")).replace(
        b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"
    )
    assert pem.startswith(b"-----BEGIN NEW CERTIFICATE REQUEST-----\n")
    parsed = parse_csr(pem)
    assert parsed.subject == {"common_name": "www.example.com"}
    assert parsed.pem.startswith("-----BEGIN CERTIFICATE REQUEST-----\n")  # normalised


def test_san_names_read_by_type_and_lower_cased(key_factory: KeyFactory) -> None:
    request = _raw_csr(
        key_factory("ec-256"),
        x509.SubjectAlternativeName([
            x509.DNSName("WWW.Example.COM"),
            x509.RFC822Name("Jane.Doe@Example.COM"),
            x509.IPAddress(ipaddress.ip_address("2001:DB8:0:0:0:0:0:1")),
            x509.DNSName("www.example.com"),
            x509.IPAddress(ipaddress.ip_address("10.1.2.3")),
            x509.DNSName("*.example.com"),
        ]),
    )
    parsed = parse_csr(_pem(request))
    assert parsed.dns_names == ("www.example.com", "*.example.com")
    assert parsed.ip_addresses == ("2001:db8::1", "10.1.2.3")
    # A mailbox's local part may be case-sensitive; only the domain is folded.
    assert parsed.emails == ("Jane.Doe@example.com",)


def test_no_san_gives_empty_names(key_factory: KeyFactory) -> None:
    parsed = parse_csr(_pem(_raw_csr(key_factory("ec-256"))))
    assert (parsed.dns_names, parsed.ip_addresses, parsed.emails) == ((), (), ())


def test_ca_flag_is_reported_not_refused(key_factory: KeyFactory) -> None:
    request = _raw_csr(
        key_factory("ec-256"), x509.BasicConstraints(ca=True, path_length=None)
    )
    assert parse_csr(_pem(request)).requests_ca is True
    leaf_like = _raw_csr(
        key_factory("ec-256"), x509.BasicConstraints(ca=False, path_length=None)
    )
    assert parse_csr(_pem(leaf_like)).requests_ca is False


# --- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "hello, this is not a CSR",
        b"",
        b"\x30\x82\x01\x00" + bytes(range(256)),  # DER-looking garbage
        b"\x00\xff" * 100,
        "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n",  # no END line
    ],
)
def test_garbage_refused(data: bytes | str) -> None:
    with pytest.raises(InvalidCSR) as exc:
        parse_csr(data)
    assert str(exc.value) == NOT_A_CSR


def test_broken_pem_refused(key_factory: KeyFactory) -> None:
    pem = _pem(build_csr(key_factory("ec-256"), "www.example.com"))
    lines = pem.split(b"\n")
    bad_char = b"\n".join([lines[0], b"*" + lines[1][1:], *lines[2:]])
    truncated = b"\n".join([lines[0], lines[1], lines[-2], b""])  # valid base64, cut DER
    for data in (bad_char, truncated):
        with pytest.raises(InvalidCSR) as exc:
            parse_csr(data)
        assert str(exc.value) == DAMAGED


def test_altered_signature_refused(key_factory: KeyFactory) -> None:
    der = bytearray(_der(build_csr(key_factory("rsa-2048"), "www.example.com")))
    der[-1] ^= 0x01  # the last byte lies inside the RSA signature value
    with pytest.raises(InvalidCSR) as exc:
        parse_csr(bytes(der))
    assert str(exc.value) == DOES_NOT_VERIFY


def test_swapped_public_key_refused(key_factory: KeyFactory) -> None:
    # A request signed by one key but carrying another key of the same size: the
    # structure stays valid, only proof of possession fails.
    signer, other = key_factory("ec-256", 0), key_factory("ec-256", 1)
    der = _der(build_csr(signer, "www.example.com"))
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    signer_spki = signer.public_key().public_bytes(*spki)
    assert der.count(signer_spki) == 1
    swapped = der.replace(signer_spki, other.public_key().public_bytes(*spki))
    with pytest.raises(InvalidCSR) as exc:
        parse_csr(swapped)
    assert str(exc.value) == DOES_NOT_VERIFY


@pytest.mark.parametrize(
    ("make_key", "error", "message"),
    [
        (lambda: rsa.generate_private_key(65537, 1024), WeakKey,
         "RSA keys must be at least 2048 bits; this CSR has a 1024-bit key."),
        (lambda: rsa.generate_private_key(3, 2048), UnsupportedKey,
         "The CSR's RSA public exponent must be an odd number of at least 65537; generate "
         "the key with the usual exponent 65537."),
        (lambda: dsa.generate_private_key(2048), UnsupportedKey,
         "The CSR uses a DSA key; only RSA and elliptic-curve keys (P-256, P-384, P-521) "
         "are accepted."),
        (ed25519.Ed25519PrivateKey.generate, UnsupportedKey,
         "The CSR uses an Ed25519 key; only RSA and elliptic-curve keys (P-256, P-384, "
         "P-521) are accepted."),
        (lambda: ec.generate_private_key(ec.SECP256K1()), UnsupportedKey,
         "The CSR uses the curve secp256k1; only P-256, P-384 and P-521 are accepted."),
        (lambda: ec.generate_private_key(ec.BrainpoolP256R1()), UnsupportedKey,
         "The CSR uses the curve brainpoolP256r1; only P-256, P-384 and P-521 are "
         "accepted."),
    ],
)
def test_unacceptable_keys_refused(
    make_key: object, error: type[PkiError], message: str
) -> None:
    request = _raw_csr(make_key())  # type: ignore[operator]
    with pytest.raises(error) as exc:
        parse_csr(_pem(request))
    assert str(exc.value) == message
    assert isinstance(exc.value, PkiError)


def test_multiple_common_names_refused(key_factory: KeyFactory) -> None:
    name = x509.Name([CN, x509.NameAttribute(NameOID.COMMON_NAME, "evil.example.net")])
    with pytest.raises(InvalidCSR) as exc:
        parse_csr(_pem(_raw_csr(key_factory("ec-256"), name=name)))
    assert str(exc.value) == (
        "The CSR's subject has more than one common name (CN); it must have at most one."
    )


def test_other_subject_attributes_ignored(key_factory: KeyFactory) -> None:
    name = x509.Name([
        CN, x509.NameAttribute(NameOID.EMAIL_ADDRESS, "ops@example.com"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "42"),
    ])
    parsed = parse_csr(_pem(_raw_csr(key_factory("ec-256"), name=name)))
    assert parsed.subject == {"common_name": "www.example.com"}


def test_unsupported_san_type_refused(key_factory: KeyFactory) -> None:
    san = x509.SubjectAlternativeName([
        x509.DNSName("www.example.com"), x509.UniformResourceIdentifier("https://x.example"),
    ])
    with pytest.raises(InvalidCSR) as exc:
        parse_csr(_pem(_raw_csr(key_factory("ec-256"), san)))
    assert str(exc.value) == (
        "The CSR requests a URI as a subject alternative name; only DNS names, IP "
        "addresses and e-mail addresses can be certified."
    )


@pytest.mark.parametrize(
    "value",
    [
        b"\x30\x03\x82\x05ab",  # inner length runs past the end
        b"\x04\x00",  # not a SEQUENCE at all
        b"\x30\x04\x87\x02\x0a\x00",  # a 2-byte "IP address"
    ],
)
def test_malformed_san_extension_refused(key_factory: KeyFactory, value: bytes) -> None:
    bad = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, value)
    with pytest.raises(InvalidCSR, match="requested extensions are malformed"):
        parse_csr(_pem(_raw_csr(key_factory("ec-256"), bad)))


def test_wrong_pem_types_named(key_factory: KeyFactory) -> None:
    from app.pki.ca import create_root_certificate

    key = key_factory("ec-256")
    with pytest.raises(InvalidCSR, match=r"^This is a private key, not a certificate"):
        parse_csr(private_key_to_pem(key))
    root = create_root_certificate(SubjectFields("Some Root"), key, "sha256", 30)
    with pytest.raises(InvalidCSR) as exc:
        parse_csr(certificate_to_pem(root))
    assert str(exc.value) == "This is a certificate, not a certificate signing request."


def test_two_csrs_refused(key_factory: KeyFactory) -> None:
    pem = _pem(build_csr(key_factory("ec-256"), "a.example.com"))
    with pytest.raises(InvalidCSR, match="more than one certificate signing request"):
        parse_csr(pem + pem)


@pytest.mark.parametrize(
    "data", ["A" * 10_000_000, b"A" * 10_000_000, b"\x30" * (MAX_CSR_BYTES + 1),
             "é" * (MAX_CSR_BYTES // 2 + 1)],
)
def test_oversized_input_refused_before_parsing(
    monkeypatch: pytest.MonkeyPatch, data: bytes | str
) -> None:
    def fail(*_: object) -> None:
        raise AssertionError("the parser must not see oversized input")

    monkeypatch.setattr(csr_module.x509, "load_der_x509_csr", fail)
    monkeypatch.setattr(csr_module.base64, "b64decode", fail)
    started = time.perf_counter()
    with pytest.raises(CSRTooLarge) as exc:
        parse_csr(data)
    assert time.perf_counter() - started < 0.5
    assert str(exc.value) == "The CSR is larger than 64 KiB."
    assert isinstance(exc.value, InvalidCSR)


@pytest.mark.parametrize(
    "marker", [b"-----BEGIN A-----", b"-----BEGIN CERTIFICATE REQUEST-----", b"-----END A-----"]
)
def test_many_pem_markers_parse_in_linear_time(marker: bytes) -> None:
    # A BEGIN..END regex with a backreference took ~1.5 s per 64 KiB of such markers.
    data = (marker * (MAX_CSR_BYTES // len(marker)))[:MAX_CSR_BYTES]
    started = time.perf_counter()
    with pytest.raises(InvalidCSR):
        parse_csr(data)
    assert time.perf_counter() - started < 0.2


def test_size_limit_is_inclusive() -> None:
    with pytest.raises(InvalidCSR) as exc:
        parse_csr(b"\x30" * MAX_CSR_BYTES)
    assert not isinstance(exc.value, CSRTooLarge)


# --- building -----------------------------------------------------------------------


def test_build_csr_is_read_by_openssl(key_factory: KeyFactory, tmp_path: Path) -> None:
    request = build_csr(
        key_factory("rsa-2048"), "app.example.com", dns_names=("app.example.com",),
        digest="sha384",
    )
    path = tmp_path / "req.pem"
    path.write_bytes(_pem(request))
    result = openssl("req", "-in", str(path), "-noout", "-verify", "-text")
    assert result.returncode == 0, result.stderr
    assert "DNS:app.example.com" in result.stdout
    assert "sha384WithRSAEncryption" in result.stdout


def test_build_csr_refusals(key_factory: KeyFactory) -> None:
    with pytest.raises(WeakKey):
        build_csr(rsa.generate_private_key(65537, 1024), "a.example.com")
    with pytest.raises(InvalidCSR, match="not valid"):
        build_csr(key_factory("ec-256"), "a.example.com", ip_addresses=("999.0.0.1",))
    with pytest.raises(PkiError):
        build_csr(key_factory("ec-256"), "")


def test_parsed_csr_key_can_be_certified(key_factory: KeyFactory) -> None:
    from app.pki.ca import create_root_certificate
    from app.pki.leaf import LeafProfile, issue_leaf

    ca_key: PrivateKey = key_factory("ec-384", 0)
    root = create_root_certificate(SubjectFields("Some Root"), ca_key, "sha384", 30)
    parsed: ParsedCSR = parse_csr(
        _pem(build_csr(key_factory("ec-256", 3), "www.example.com"))
    )
    leaf = issue_leaf(
        LeafProfile(SubjectFields(**parsed.subject), dns_names=parsed.dns_names,
                    digest="sha384"),
        parsed.public_key, root, ca_key,
    )
    assert same_public_key(leaf.public_key(), key_factory("ec-256", 3))  # type: ignore[arg-type]


def test_pem_base64_whitespace_tolerated(key_factory: KeyFactory) -> None:
    # Mail clients re-wrap lines and add CRLFs; only the base64 characters matter.
    der = _der(build_csr(key_factory("ec-256"), "www.example.com"))
    body = base64.b64encode(der).decode()
    wrapped = "\r\n".join(body[i : i + 40] for i in range(0, len(body), 40))
    text = f"-----BEGIN CERTIFICATE REQUEST-----\r\n{wrapped}\r\n-----END CERTIFICATE REQUEST-----"
    assert parse_csr("  " + text + "\n\n").subject == {"common_name": "www.example.com"}
