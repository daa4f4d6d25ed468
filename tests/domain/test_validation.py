"""Table tests for non-policy checks: parse_names, check_names, check_request_values."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.request import CertificateRequest, PublicKeyFacts
from app.domain.validation import NameScope, check_names, check_request_values, parse_names

# ---------------------------------------------------------------------------
# parse_names
# ---------------------------------------------------------------------------

PARSE = [
    pytest.param(" WWW.Example.COM. ", [], ("www.example.com", (), (), ()), [], id="cn-normalised"),
    pytest.param("", [], ("", (), (), ()), [], id="blank-cn"),
    pytest.param("bücher.de", ["Bücher.de", "xn--bcher-kva.de", "www.bücher.de"],
                 ("xn--bcher-kva.de", ("www.xn--bcher-kva.de",), (), ()), [],
                 id="idn-and-cn-repeated"),
    pytest.param("example.com", ["a.example.com", "A.example.com.", " ", "", "*.example.com"],
                 ("example.com", ("a.example.com", "*.example.com"), (), ()), [],
                 id="duplicates-and-blanks-dropped"),
    pytest.param("example.com", ["192.0.2.1", "2001:DB8::1", "192.0.2.1"],
                 ("example.com", (), ("192.0.2.1", "2001:db8::1"), ()), [], id="ips-canonical"),
    pytest.param("example.com", ["Ops@Example.COM", "ops@example.com"],
                 ("example.com", (), (), ("Ops@example.com", "ops@example.com")), [],
                 id="email-domain-normalised-local-kept"),
    pytest.param("192.0.2.1", [], ("", (), (), ()), [("name.invalid", "common_name",
                 "IP address; put IP addresses")], id="ip-cn"),
    pytest.param("ops@example.com", [], ("", (), (), ()), [("name.invalid", "common_name",
                 "e-mail address")], id="email-cn"),
    pytest.param("foo_bar.example.com", [], ("", (), (), ()),
                 [("name.invalid", "common_name", "underscore")], id="bad-cn"),
    pytest.param("example.com", ["a..example.com", "ok.example.com", "*.*.example.com"],
                 ("example.com", ("ok.example.com",), (), ()),
                 [("name.invalid", "sans", "empty label"), ("name.invalid", "sans", "wildcard")],
                 id="bad-sans-each-reported"),
    pytest.param("example.com", ["@example.com", "a@b@example.com", "a..b@example.com",
                                 "ops@localhost", "ops@*.example.com"],
                 ("example.com", (), (), ()),
                 [("name.invalid", "sans", "exactly one '@'"),
                  ("name.invalid", "sans", "exactly one '@'"),
                  ("name.invalid", "sans", "part before '@'"),
                  ("name.invalid", "sans", "its domain is not valid"),
                  ("name.invalid", "sans", "its domain is not valid")], id="bad-emails"),
    pytest.param("example.com", ["fe80::1%eth0", "[2001:db8::1]", "10.0.0.0/8"],
                 ("example.com", (), (), ()), [("name.invalid", "sans", "")] * 3,
                 id="ip-like-but-not-ip"),
    pytest.param("example.com", ["a" * 254], ("example.com", (), (), ()),
                 [("name.invalid", "sans", "longer than 253")], id="entry-too-long"),
    pytest.param("example.com", [f"h{i}.example.com" for i in range(101)],
                 ("example.com", (), (), ()), [("sans.too_many", "sans", "at most 100")],
                 id="too-many"),
    pytest.param("example.com", [f"h{i}.example.com" for i in range(100)],
                 ("example.com", tuple(f"h{i}.example.com" for i in range(100)), (), ()), [],
                 id="exactly-100"),
]


@pytest.mark.parametrize(("cn", "sans", "expected", "problems"), PARSE)
def test_parse_names(cn: str, sans: list[str], expected: tuple[Any, ...],
                     problems: list[tuple[str, str, str]]) -> None:
    *names, violations = parse_names(cn, sans)
    assert tuple(names) == expected
    assert len(violations) == len(problems), violations
    for v, (code, field, words) in zip(violations, problems, strict=True):
        assert (v.code, v.field, v.severity, v.policy) == (code, field, "hard", None)
        assert words in v.message, v.message


# ---------------------------------------------------------------------------
# check_names
# ---------------------------------------------------------------------------

ACTIVE = NameScope("active domains", ("example.com", "xn--bcher-kva.de"), ("192.0.2.0/24",),
                   "name.not_registered")
ASSIGNED = NameScope("your assigned domains", ("dev.example.com",), (), "name.not_assigned")
NOTHING = NameScope("your assigned domains", (), (), "name.not_assigned")
COURIER = NameScope("the courier's allowed domains", ("example.com",), (), "name.outside_scope")


def r(cn: str = "www.example.com", **fields: Any) -> CertificateRequest:
    return CertificateRequest(common_name=cn, **fields)


CHECK_NAMES = [
    pytest.param(r(dns_names=("a.b.example.com", "*.example.com", "www.xn--bcher-kva.de"),
                   ip_addresses=("192.0.2.9",), emails=("ops@example.com",)), [ACTIVE], [],
                 id="all-covered"),
    pytest.param(r(dns_names=("api.other.com",)), [ACTIVE],
                 [("name.not_registered", "sans",
                   "api.other.com is not under an active registered domain.")],
                 id="one-san-outside"),
    pytest.param(r("badexample.com", dns_names=("api.other.com",)), [ACTIVE],
                 [("name.not_registered", "common_name",
                   "badexample.com and api.other.com are not under an active registered "
                   "domain.")], id="cn-outside-sibling-string"),
    pytest.param(r(ip_addresses=("198.51.100.1", "::ffff:192.0.2.9")), [ACTIVE],
                 [("name.not_registered", "sans", "198.51.100.1 and ::ffff:c000:209 are not "
                   "under an enabled registered IP network.")], id="ips-outside"),
    pytest.param(r(dns_names=("x.org",), ip_addresses=("10.0.0.1",),
                   emails=("a@mail.org",)), [ACTIVE],
                 [("name.not_registered", "sans", "x.org, 10.0.0.1 and a@mail.org are not "
                   "under an active registered domain or IP network.")], id="mixed-outside"),
    pytest.param(r("a.dev.example.com", dns_names=("www.example.com",)), [ACTIVE, ASSIGNED],
                 [("name.not_assigned", "sans",
                   "www.example.com is not under your assigned domains.")],
                 id="registered-not-assigned"),
    pytest.param(r(), [ACTIVE, NOTHING],
                 [("name.not_assigned", "common_name", "You have no assigned domains")],
                 id="no-assignments"),
    pytest.param(r("*.other.example.org"), [ACTIVE, COURIER],
                 [("name.not_registered", "common_name", "*.other.example.org"),
                  ("name.outside_scope", "common_name",
                   "*.other.example.org is not under the courier's allowed domains.")],
                 id="one-violation-per-scope"),
]


@pytest.mark.parametrize(("request_", "scopes", "expected"), CHECK_NAMES)
def test_check_names(request_: CertificateRequest, scopes: list[NameScope],
                     expected: list[tuple[str, str, str]]) -> None:
    violations = check_names(request_, scopes)
    assert len(violations) == len(expected), violations
    for v, (code, field, words) in zip(violations, expected, strict=True):
        assert (v.code, v.field, v.severity) == (code, field, "hard")
        assert words in v.message, v.message


# ---------------------------------------------------------------------------
# check_request_values
# ---------------------------------------------------------------------------

VALUES = [
    pytest.param(r(), [], id="names-only"),
    pytest.param(r(algorithm="rsa-3072", digest="sha512", validity_days=3650,
                   key_usage=("digitalSignature", "keyEncipherment"),
                   extended_key_usage=("serverAuth", "clientAuth")), [], id="all-valid"),
    pytest.param(r(""), [("name.missing", "common_name", "common name is required")],
                 id="no-cn"),
    pytest.param(r(algorithm="rsa-1024"), [("algorithm.unknown", "algorithm", "rsa-1024")],
                 id="algorithm"),
    pytest.param(r(digest="md5"), [("digest.unknown", "digest", "md5")], id="digest"),
    pytest.param(r(validity_days=0), [("validity.out_of_range", "validity_days", "1 to 3650")],
                 id="validity-zero"),
    pytest.param(r(validity_days=3651), [("validity.out_of_range", "validity_days", "3651")],
                 id="validity-high"),
    pytest.param(r(validity_days=1), [], id="validity-one"),
    pytest.param(r(key_usage=("digitalSignature", "signing")),
                 [("key_usage.unknown", "key_usage", "signing")], id="unknown-ku"),
    pytest.param(r(extended_key_usage=("anyExtendedKeyUsage",)),
                 [("key_usage.unknown", "extended_key_usage", "anyExtendedKeyUsage")],
                 id="unknown-eku"),
    pytest.param(r(algorithm="ec-384", key_usage=("digitalSignature", "keyEncipherment")),
                 [("key_usage.ec_encipherment", "key_usage",
                   "An EC key cannot encipher, so it cannot have keyEncipherment; use "
                   "keyAgreement or drop it")], id="ec-key-encipherment"),
    pytest.param(r(csr_key=PublicKeyFacts("ecdsa", 256, "secp256r1"),
                   key_usage=("dataEncipherment",)),
                 [("key_usage.ec_encipherment", "key_usage", "dataEncipherment")],
                 id="ec-csr-data-encipherment"),
    pytest.param(r(algorithm="rsa-2048", key_usage=("keyEncipherment", "dataEncipherment")), [],
                 id="rsa-may-encipher"),
    pytest.param(r(csr_key=PublicKeyFacts("rsa", 1024)),
                 [("csr.weak_key", "csr", "1024 bits; at least 2048")], id="csr-rsa-weak"),
    pytest.param(r(csr_key=PublicKeyFacts("rsa", 16385)),
                 [("csr.unsupported_key", "csr", "at most 16384")], id="csr-rsa-huge"),
    pytest.param(r(csr_key=PublicKeyFacts("rsa", 2048)), [], id="csr-rsa-ok"),
    pytest.param(r(csr_key=PublicKeyFacts("ecdsa", 521, "secp521r1")), [], id="csr-p521"),
    pytest.param(r(csr_key=PublicKeyFacts("ecdsa", 256, "prime256v1")), [], id="csr-alias"),
    pytest.param(r(csr_key=PublicKeyFacts("ecdsa", 256, "secp256k1")),
                 [("csr.unsupported_key", "csr", "secp256k1")], id="csr-k1-curve"),
    pytest.param(r(csr_key=PublicKeyFacts("ecdsa", 224, "secp224r1")),
                 [("csr.weak_key", "csr", "secp224r1")], id="csr-p224"),
    pytest.param(r(csr_key=PublicKeyFacts("ed25519", 256)),
                 [("csr.unsupported_key", "csr", "ED25519 is not supported")], id="csr-ed25519"),
    pytest.param(r(csr_key=PublicKeyFacts("dsa", 2048)),
                 [("csr.unsupported_key", "csr", "DSA")], id="csr-dsa"),
    pytest.param(r(dns_names=tuple(f"h{i}.example.com" for i in range(101))),
                 [("sans.too_many", "sans", "at most 100")], id="too-many-sans"),
]


@pytest.mark.parametrize(("request_", "expected"), VALUES)
def test_check_request_values(request_: CertificateRequest,
                              expected: list[tuple[str, str, str]]) -> None:
    violations = check_request_values(request_)
    assert len(violations) == len(expected), violations
    for v, (code, field, words) in zip(violations, expected, strict=True):
        assert (v.code, v.field, v.severity, v.policy) == (code, field, "hard", None)
        assert words in v.message, v.message
