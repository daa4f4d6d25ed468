"""The lint's dispatch cache (``app.pki.lint.with_dispatch_cache``) gives exactly pkilint's
own results: the same validators run on the same nodes with the same findings, in the same
order, for good and bad certificates (serverAuth leaves judged as DV and OV, other leaves
and CAs by RFC 5280), CRLs and OCSP responses — each document checked twice, so the second
walk runs from the remembered dispatch and the remembered algorithm encodings (allowed and
prohibited identifiers that share an OID and differ only in their parameters)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.pki import lint

NOW = datetime.now(UTC).replace(microsecond=0)
CA_KEY = ec.generate_private_key(ec.SECP256R1())
RSA_CA_KEY = rsa.generate_private_key(65537, 2048)
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
                     x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"),
                     x509.NameAttribute(NameOID.COMMON_NAME, "Example Issuing CA")])


def _cn(*attributes: tuple) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _leaf(*, names=("a.example.com",), subject=None, eku=(ExtendedKeyUsageOID.SERVER_AUTH,),
          days=90, key=None, ca=False, extra=(), skip_san=False, pss_salt=None
          ) -> x509.Certificate:
    """``pss_salt``: signed by an RSA CA with RSASSA-PSS and this salt length."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(subject or _cn((NameOID.COMMON_NAME, names[0])))
               .issuer_name(CA_NAME).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW).not_valid_after(NOW + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   CA_KEY.public_key()), False))
    if not skip_san:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in names]), False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), False)
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical)
    if pss_salt is not None:
        return builder.sign(RSA_CA_KEY, hashes.SHA256(), rsa_padding=padding.PSS(
            padding.MGF1(hashes.SHA256()), pss_salt))
    return builder.sign(CA_KEY, hashes.SHA256())


def _outer_signature_algorithm_changed(cert: x509.Certificate) -> x509.Certificate:
    """``cert`` claiming ecdsa-with-SHA384 outside the signed part (SHA256 inside)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    sha256 = bytes.fromhex("06082a8648ce3d040302")
    at = der.rfind(sha256)
    return x509.load_der_x509_certificate(
        der[:at] + bytes.fromhex("06082a8648ce3d040303") + der[at + len(sha256):])


CERTIFICATES = {
    "a clean-looking leaf": _leaf(),
    "many names": _leaf(names=tuple(f"h{i}.example.com" for i in range(30))),
    "a non-LDH name": _leaf(names=("a.example.com", "bad_host.example.com")),
    "no SAN": _leaf(skip_san=True),
    "an OV subject": _leaf(subject=_cn((NameOID.COUNTRY_NAME, "DE"),
                                       (NameOID.ORGANIZATION_NAME, "Example"),
                                       (NameOID.COMMON_NAME, "a.example.com"))),
    "too long for the BRs": _leaf(days=900),
    "an RSA key": _leaf(key=rsa.generate_private_key(65537, 2048)),
    # Same key-algorithm OID as the P-256 leaves, other parameters: a prohibited encoding.
    "a secp256k1 key": _leaf(key=ec.generate_private_key(ec.SECP256K1())),
    # Same signature-algorithm OID, other parameters: allowed, then prohibited.
    "RSASSA-PSS with a 32-byte salt": _leaf(pss_salt=32),
    "RSASSA-PSS with the longest salt": _leaf(pss_salt=padding.PSS.MAX_LENGTH),
    "signature algorithms that differ": _outer_signature_algorithm_changed(_leaf()),
    "clientAuth only (RFC 5280 linter)": _leaf(eku=(ExtendedKeyUsageOID.CLIENT_AUTH,)),
    "no EKU (RFC 5280 linter)": _leaf(eku=()),
    "a CA certificate": _leaf(ca=True, eku=(), extra=(
        (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),)),
    "a critical SAN with a CN": _leaf(extra=((x509.KeyUsage(
        True, False, True, False, False, False, False, False, False), False),)),
}


def _described(results) -> list[tuple]:
    return [(type(r.validator).__name__, r.node.path,
             [(d.finding.severity.name, d.finding.code, d.message)
              for d in r.finding_descriptions]) for r in results]


def _certificate_results(validator, cert: x509.Certificate) -> list[tuple]:
    from pkilint import loader

    doc = loader.load_der_certificate(cert.public_bytes(serialization.Encoding.DER), "c")
    return _described(validator.validate(doc.root))


def _validator_pairs() -> list[tuple]:
    """(pkilint's own validator, one with the dispatch cache) for each linter we use."""
    from pkilint.cabf.serverauth.serverauth_constants import CertificateType

    pairs = [(lint.build_pkix_certificate_validator(),
              lint.with_dispatch_cache(lint.build_pkix_certificate_validator()))]
    for kind in (CertificateType.DV_FINAL_CERTIFICATE, CertificateType.OV_FINAL_CERTIFICATE):
        pairs.append((lint.build_serverauth_validator(kind)[0],
                      lint.with_dispatch_cache(lint.build_serverauth_validator(kind)[0])))
    return pairs


def test_certificates_get_pkilints_own_results() -> None:
    """One cached validator walks every certificate, forwards then backwards: what it
    remembered from one document must not change what it finds in another."""
    names = sorted(CERTIFICATES)
    for stock, cached in _validator_pairs():
        expected = {name: _certificate_results(stock, CERTIFICATES[name]) for name in names}
        assert all(expected.values())      # the walks ran validators
        for name in [*names, *reversed(names)]:
            assert _certificate_results(cached, CERTIFICATES[name]) == expected[name], name


def test_the_dispatch_cache_is_what_linting_uses() -> None:
    """The findings our lint reports come through the cached validators (and match)."""
    cert = CERTIFICATES["a non-LDH name"]
    found = lint.lint_certificate(cert)
    assert "cabf.serverauth.invalid_dnsname_syntax" in {f.code for f in found}, found
    from pkilint.cabf.serverauth.serverauth_constants import CertificateType
    validator, _ = lint._serverauth_validator(CertificateType.DV_FINAL_CERTIFICATE)
    assert validator._dispatch       # remembered (path, class) pairs


def test_algorithm_encodings_are_remembered_by_oid_and_parameters() -> None:
    """The encoding checks read remembered DER (``lint._algorithm_identifier_der``), and an
    identifier with the OID of an allowed one and other parameters is still refused, with
    pkilint's message — whichever was seen first."""
    codes = {}
    for name in ["a clean-looking leaf", "a secp256k1 key", "RSASSA-PSS with a 32-byte salt",
                 "RSASSA-PSS with the longest salt", "signature algorithms that differ",
                 "a clean-looking leaf"]:
        codes[name] = {f.code: f.message for f in lint.lint_certificate(CERTIFICATES[name])}
    spki, signature = ("cabf.serverauth.prohibited_subject_public_key_algorithm_encoding",
                       "cabf.serverauth.prohibited_signature_algorithm_encoding")
    assert codes["a secp256k1 key"][spki] == \
        "Prohibited encoding: 301006072a8648ce3d020106052b8104000a"
    assert spki not in codes["a clean-looking leaf"]
    assert signature in codes["RSASSA-PSS with the longest salt"]
    assert signature not in codes["RSASSA-PSS with a 32-byte salt"]
    mismatch = "pkix.certificate_signature_algorithm_mismatch"
    assert codes["signature algorithms that differ"][mismatch] == (
        "DER encoding of certificate.signatureAlgorithm and "
        "certificate.tbsCertificate.signature are not equal")
    assert mismatch not in codes["a clean-looking leaf"]
    assert lint._encodings        # the walks went through the remembered encodings


def test_crls_and_ocsp_responses_get_pkilints_own_results() -> None:
    from pkilint import loader

    revoked = (x509.RevokedCertificateBuilder().serial_number(7)
               .revocation_date(NOW - timedelta(hours=1))
               .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), False).build())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(CA_NAME)
           .last_update(NOW).next_update(NOW + timedelta(days=7))
           .add_revoked_certificate(revoked)
           .add_extension(x509.CRLNumber(3), False)
           .sign(CA_KEY, hashes.SHA256()))
    crl_doc = loader.RFC5280CertificateListDocumentLoader().load_der_document(
        crl.public_bytes(serialization.Encoding.DER), "crl")
    expected = _described(lint.build_crl_validator().validate(crl_doc.root))
    cached = lint.with_dispatch_cache(lint.build_crl_validator())
    for _ in range(2):
        assert _described(cached.validate(crl_doc.root)) == expected

    responder_key = ec.generate_private_key(ec.SECP256R1())
    responder = _leaf(names=("ocsp.example.com",), key=responder_key,
                      eku=(ExtendedKeyUsageOID.OCSP_SIGNING,))
    cached = lint.with_dispatch_cache(lint.build_ocsp_validator())
    documents = []
    for status in (ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.REVOKED):
        response = (ocsp.OCSPResponseBuilder().add_response(
            cert=CERTIFICATES["a clean-looking leaf"], issuer=responder,
            algorithm=hashes.SHA1(), cert_status=status,
            this_update=NOW, next_update=NOW + timedelta(days=4),
            revocation_time=NOW if status == ocsp.OCSPCertStatus.REVOKED else None,
            revocation_reason=None).responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
            .sign(responder_key, hashes.SHA256()))
        doc = loader.RFC6960OCSPResponseDocumentLoader().load_der_document(
            response.public_bytes(serialization.Encoding.DER), "ocsp")
        documents.append((doc, _described(lint.build_ocsp_validator().validate(doc.root))))
    for doc, expected in [*documents, *reversed(documents)]:
        assert _described(cached.validate(doc.root)) == expected


def _dated_leaf(not_before: datetime, names: tuple[str, ...]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (x509.CertificateBuilder().subject_name(_cn((NameOID.COMMON_NAME, names[0])))
            .issuer_name(CA_NAME).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_before + timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .sign(CA_KEY, hashes.SHA256()))


def test_documents_with_validity_parsed_once_get_pkilints_own_results() -> None:
    """``lint._certificate_loader`` makes documents whose validity times are parsed once:
    the same times and the same findings as pkilint's own loader, also for the rules that
    depend on the validity start (an IP reverse-zone name is an error only from
    2026-03-15; a validity over the BRs' maximum)."""
    from pkilint import loader
    from pkilint.cabf.serverauth.serverauth_constants import CertificateType

    reverse_zone = ("a.example.com", "4.3.2.1.in-addr.arpa")
    dated = {"reverse zone, before the sunset": _dated_leaf(datetime(2026, 3, 1, tzinfo=UTC),
                                                           reverse_zone),
             "reverse zone, after the sunset": _dated_leaf(datetime(2026, 4, 1, tzinfo=UTC),
                                                          reverse_zone)}
    validator = lint.build_serverauth_validator(CertificateType.DV_FINAL_CERTIFICATE)[0]
    ours = lint._certificate_loader()
    codes = {}
    for name, cert in {**CERTIFICATES, **dated}.items():
        der = cert.public_bytes(serialization.Encoding.DER)
        stock_doc, our_doc = loader.load_der_certificate(der, "c"), ours.load_der_document(der, "c")
        assert (our_doc.not_before, our_doc.not_after) == \
            (stock_doc.not_before, stock_doc.not_after) == \
            (cert.not_valid_before_utc, cert.not_valid_after_utc), name
        expected = _described(validator.validate(stock_doc.root))
        assert _described(validator.validate(our_doc.root)) == expected, name
        codes[name] = {code for _, _, found in expected for _, code, _ in found}
    reverse_zone_error = "cabf.serverauth.ip_reverse_zone_domain_name_present"
    assert reverse_zone_error in codes["reverse zone, after the sunset"]
    assert reverse_zone_error not in codes["reverse zone, before the sunset"]


def test_only_an_algorithm_identifiers_encoding_is_remembered() -> None:
    """A SEQUENCE with an algorithm and parameters and anything more is encoded each time:
    its OID and parameters do not determine its DER."""
    from pyasn1.codec.der.encoder import encode
    from pyasn1.type import namedtype, univ

    class WithMore(univ.Sequence):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType("algorithm", univ.ObjectIdentifier()),
            namedtype.OptionalNamedType("parameters", univ.Any()),
            namedtype.NamedType("more", univ.Integer()))

    encodings = set()
    for more in (1, 2):
        value = WithMore()
        value["algorithm"] = univ.ObjectIdentifier("1.2.840.10045.2.1")
        value["more"] = more
        assert lint._algorithm_identifier_der(value) == encode(value)
        encodings.add(lint._algorithm_identifier_der(value))
    assert len(encodings) == 2
