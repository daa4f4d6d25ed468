"""Table tests for app.domain.names: normalisation, validation and coverage."""

from __future__ import annotations

import ipaddress
import pickle
import random

import pytest

from app.domain.errors import DomainError, InvalidName
from app.domain.names import (
    covering_domain,
    display_domain,
    ip_is_covered,
    name_is_covered,
    normalize_domain,
    normalize_network,
    normalize_requested_name,
    parse_ip,
    uncovered_names,
)

# 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters, the maximum.
NAME_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
NAME_254 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 62])
LABEL_63 = "x" * 63
LABEL_64 = "x" * 64


def _raises(func, raw: str, code: str) -> InvalidName:
    with pytest.raises(InvalidName) as info:
        func(raw)
    assert info.value.code == code, str(info.value)
    return info.value


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_invalid_name_carries_name_message_code() -> None:
    err = InvalidName(" x ", "Something is wrong.", "name.empty")
    assert isinstance(err, DomainError)
    assert err.name == " x "
    assert err.message == "Something is wrong."
    assert err.code == "name.empty"
    assert str(err) == "Something is wrong."


def test_invalid_name_rejects_unknown_code() -> None:
    with pytest.raises(ValueError, match="unknown"):
        InvalidName("x", "msg", "name.typo")


def test_errors_survive_pickling() -> None:
    err = InvalidName("a..b", "Bad.", "name.empty_label")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.name, copy.message, copy.code) == ("a..b", "Bad.", "name.empty_label")
    base = pickle.loads(pickle.dumps(DomainError("Root.", code="x.y")))
    assert (base.message, base.code, str(base)) == ("Root.", "x.y", "Root.")


def test_domain_error_default_code() -> None:
    assert DomainError("m").code == "domain.error"


# ---------------------------------------------------------------------------
# normalize_domain
# ---------------------------------------------------------------------------

VALID_DOMAINS = [
    pytest.param("example.com", "example.com", id="plain"),
    pytest.param("EXAMPLE.Com", "example.com", id="upper-case"),
    pytest.param("example.com.", "example.com", id="trailing-dot"),
    pytest.param("  example.com \t\n", "example.com", id="surrounding-whitespace"),
    pytest.param("bücher.example", "xn--bcher-kva.example", id="idn-u-label"),
    pytest.param("BÜCHER.example", "xn--bcher-kva.example", id="idn-upper-case"),
    pytest.param("xn--bcher-kva.example", "xn--bcher-kva.example", id="a-label"),
    pytest.param("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example", id="a-label-upper"),
    pytest.param("faß.de", "xn--fa-hia.de", id="sharp-s-nontransitional"),
    pytest.param("ＥＸＡＭＰＬＥ．com", "example.com", id="fullwidth-mapped"),
    pytest.param("a。b.com", "a.b.com", id="ideographic-full-stop"),
    pytest.param(NAME_253, NAME_253, id="max-length-253"),
    pytest.param(f"{LABEL_63}.com", f"{LABEL_63}.com", id="label-63"),
    pytest.param("web01.2fa.example", "web01.2fa.example", id="digits-in-labels"),
    pytest.param("123.example.com", "123.example.com", id="all-digit-non-tld"),
    pytest.param("my-host.ex-ample.com", "my-host.ex-ample.com", id="hyphen-inside"),
    pytest.param("a.b.c.d.example.com", "a.b.c.d.example.com", id="many-labels"),
    pytest.param("example.xn--p1ai", "example.xn--p1ai", id="idn-tld-a-label"),
    pytest.param("пример.рф", "xn--e1afmkfd.xn--p1ai", id="cyrillic"),
]


@pytest.mark.parametrize(("raw", "expected"), VALID_DOMAINS)
def test_normalize_domain_valid(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), VALID_DOMAINS)
def test_normalize_domain_is_idempotent(raw: str, expected: str) -> None:
    assert normalize_domain(normalize_domain(raw)) == expected


INVALID_DOMAINS = [
    pytest.param("", "name.empty", id="empty"),
    pytest.param("   \t", "name.empty", id="whitespace-only"),
    pytest.param(".", "name.empty", id="only-dot"),
    pytest.param("exa mple.com", "name.invalid_label", id="space-inside"),
    pytest.param("exa\tmple.com", "name.invalid_label", id="tab-inside"),
    pytest.param("_acme.example.com", "name.invalid_label", id="underscore"),
    pytest.param("exa!mple.com", "name.invalid_label", id="punctuation"),
    pytest.param("exa/mple.com", "name.invalid_label", id="slash"),
    pytest.param("a\x00b.com", "name.invalid_label", id="nul-byte"),
    pytest.param("bü cher.example", "name.invalid_label", id="space-in-idn-label"),
    pytest.param("-example.com", "name.invalid_hyphen", id="leading-hyphen"),
    pytest.param("example-.com", "name.invalid_hyphen", id="trailing-hyphen"),
    pytest.param("ab--cd.com", "name.invalid_hyphen", id="reserved-hyphens-3-4"),
    pytest.param(f"{LABEL_64}.com", "name.label_too_long", id="label-64"),
    pytest.param("ü" * 60 + ".com", "name.label_too_long", id="idn-label-too-long"),
    pytest.param(NAME_254, "name.too_long", id="total-254"),
    pytest.param("a." * 600 + "com", "name.too_long", id="huge-input"),
    pytest.param("a..b", "name.empty_label", id="empty-label"),
    pytest.param(".example.com", "name.empty_label", id="leading-dot"),
    pytest.param("example.com..", "name.empty_label", id="two-trailing-dots"),
    pytest.param("localhost", "name.single_label", id="single-label"),
    pytest.param("com.", "name.single_label", id="single-label-trailing-dot"),
    pytest.param("10.0.0.1", "name.ip_address", id="ipv4-address"),
    pytest.param("2001:db8::1", "name.ip_address", id="ipv6-address"),
    pytest.param("host.123", "name.numeric_tld", id="numeric-tld"),
    pytest.param("10.0.0.256", "name.numeric_tld", id="not-quite-ip"),
    pytest.param("*.example.com", "name.wildcard_not_allowed", id="wildcard"),
    pytest.param("a.*.example.com", "name.wildcard_not_allowed", id="wildcard-mid"),
    pytest.param("f*o.example.com", "name.wildcard_not_allowed", id="wildcard-part"),
    pytest.param("*", "name.wildcard_not_allowed", id="wildcard-alone"),
    pytest.param("＊.example.com", "name.wildcard_not_allowed", id="fullwidth-star"),
    pytest.param("xn--zz.example", "name.invalid_idn", id="bad-punycode"),
    pytest.param("xn--a.example", "name.invalid_idn", id="punycode-control-char"),
    pytest.param("xn--.example", "name.invalid_hyphen", id="empty-punycode"),
    pytest.param("xn--ls8h.la", "name.invalid_idn", id="a-label-emoji"),
    pytest.param("💩.la", "name.invalid_idn", id="emoji"),
    pytest.param("a\u200db.com", "name.invalid_idn", id="zero-width-joiner"),
    pytest.param("x\ufffd.com", "name.invalid_label", id="replacement-char"),
]


@pytest.mark.parametrize(("raw", "code"), INVALID_DOMAINS)
def test_normalize_domain_invalid(raw: str, code: str) -> None:
    err = _raises(normalize_domain, raw, code)
    assert err.name == raw
    assert err.message.endswith(".")
    assert str(err) == err.message


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param(
            "exa mple.com",
            "'exa mple.com' is not a valid domain name: label 'exa mple' may "
            "contain only letters, digits and hyphens.",
            id="space",
        ),
        pytest.param("_acme.example.com", "'_acme'", id="underscore-names-label"),
        pytest.param("_acme.example.com", "underscore", id="underscore-says-so"),
        pytest.param("-example.com", "'-example'", id="hyphen-names-label"),
        pytest.param(f"{LABEL_64}.com", "64 characters", id="label-length"),
        pytest.param(NAME_254, "254 characters", id="total-length"),
        pytest.param("xn--zz.example", "'xn--zz'", id="punycode-names-label"),
        pytest.param("10.0.0.1", "add it as an IP network", id="ip-hint"),
        pytest.param("host.123", "'123'", id="numeric-tld-names-label"),
        pytest.param("a\x00b.com", "\\u0000", id="control-char-escaped"),
        pytest.param("localhost", "at least two labels", id="single-label"),
    ],
)
def test_normalize_domain_messages(raw: str, fragment: str) -> None:
    with pytest.raises(InvalidName) as info:
        normalize_domain(raw)
    assert fragment in info.value.message


def test_wildcard_entry_message_suggests_base() -> None:
    err = _raises(normalize_domain, "*.example.com", "name.wildcard_not_allowed")
    assert err.message == (
        "Wildcard entries are not allowed: register 'example.com' "
        "to cover all its subdomains."
    )


def test_wildcard_entry_message_without_usable_base() -> None:
    err = _raises(normalize_domain, "*.com", "name.wildcard_not_allowed")
    assert "register the parent domain" in err.message


def test_long_input_is_truncated_in_message() -> None:
    err = _raises(normalize_domain, "a." * 600 + "com", "name.too_long")
    assert len(err.message) < 200
    assert err.name == "a." * 600 + "com"


def test_soft_hyphen_is_deleted_by_uts46() -> None:
    # UTS-46 maps invisible characters away; the stored form is what counts.
    assert normalize_domain("exam\u00adple.com") == "example.com"


def test_non_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        normalize_domain(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# display_domain
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("xn--bcher-kva.example", "bücher.example", id="idn"),
        pytest.param("example.com", "example.com", id="ascii"),
        pytest.param("*.xn--bcher-kva.example", "*.bücher.example", id="wildcard"),
        pytest.param("xn--zz.example", "xn--zz.example", id="undecodable-fallback"),
        pytest.param("", "", id="empty-fallback"),
        pytest.param("xn--e1afmkfd.xn--p1ai", "пример.рф", id="cyrillic"),
    ],
)
def test_display_domain(name: str, expected: str) -> None:
    assert display_domain(name) == expected


# ---------------------------------------------------------------------------
# normalize_requested_name
# ---------------------------------------------------------------------------

VALID_REQUESTED = [
    pytest.param("www.example.com", "www.example.com", id="plain"),
    pytest.param("WWW.Example.COM.", "www.example.com", id="case-and-dot"),
    pytest.param("example.com", "example.com", id="apex"),
    pytest.param("*.example.com", "*.example.com", id="wildcard"),
    pytest.param("*.Example.COM.", "*.example.com", id="wildcard-case-dot"),
    pytest.param("*.x.example.com", "*.x.example.com", id="wildcard-deep"),
    pytest.param("*.bücher.example", "*.xn--bcher-kva.example", id="wildcard-idn"),
    pytest.param("＊.example.com", "*.example.com", id="fullwidth-star"),
    pytest.param("bücher.example", "xn--bcher-kva.example", id="idn"),
    pytest.param("*." + NAME_253[2:], "*." + NAME_253[2:], id="wildcard-max-253"),
]


@pytest.mark.parametrize(("raw", "expected"), VALID_REQUESTED)
def test_normalize_requested_name_valid(raw: str, expected: str) -> None:
    assert normalize_requested_name(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), VALID_REQUESTED)
def test_normalize_requested_name_is_idempotent(raw: str, expected: str) -> None:
    assert normalize_requested_name(normalize_requested_name(raw)) == expected


INVALID_REQUESTED = [
    pytest.param("f*o.example.com", "name.wildcard_misplaced", id="partial"),
    pytest.param("*foo.example.com", "name.wildcard_misplaced", id="prefix-partial"),
    pytest.param("a.*.example.com", "name.wildcard_misplaced", id="middle"),
    pytest.param("example.*", "name.wildcard_misplaced", id="rightmost"),
    pytest.param("*.*.example.com", "name.wildcard_misplaced", id="double"),
    pytest.param("**.example.com", "name.wildcard_misplaced", id="double-star"),
    pytest.param("*", "name.wildcard_too_broad", id="star-alone"),
    pytest.param("*.", "name.wildcard_too_broad", id="star-dot"),
    pytest.param("*.com", "name.wildcard_too_broad", id="too-broad-tld"),
    pytest.param("*.com.", "name.wildcard_too_broad", id="too-broad-tld-dot"),
    pytest.param("*..com", "name.empty_label", id="wildcard-empty-label"),
    pytest.param("*.exa_mple.com", "name.invalid_label", id="wildcard-bad-base"),
    pytest.param("*.10.0.0.1", "name.ip_address", id="wildcard-over-ip"),
    pytest.param("*." + NAME_254[2:], "name.too_long", id="wildcard-254"),
    pytest.param("localhost", "name.single_label", id="single-label"),
    pytest.param("host.123", "name.numeric_tld", id="numeric-tld"),
    pytest.param("10.0.0.1", "name.ip_address", id="ipv4"),
    pytest.param("::1", "name.ip_address", id="ipv6"),
    pytest.param("", "name.empty", id="empty"),
    pytest.param("exa mple.com", "name.invalid_label", id="space"),
    pytest.param("xn--zz.example", "name.invalid_idn", id="bad-punycode"),
]


@pytest.mark.parametrize(("raw", "code"), INVALID_REQUESTED)
def test_normalize_requested_name_invalid(raw: str, code: str) -> None:
    err = _raises(normalize_requested_name, raw, code)
    assert err.name == raw


def test_requested_error_quotes_whole_wildcard_name() -> None:
    err = _raises(normalize_requested_name, "*.exa_mple.com", "name.invalid_label")
    assert "'*.exa_mple.com'" in err.message
    assert "'exa_mple'" in err.message


def test_requested_ip_message_points_to_ip_san() -> None:
    err = _raises(normalize_requested_name, "10.0.0.1", "name.ip_address")
    assert "request it as an IP address" in err.message


# ---------------------------------------------------------------------------
# normalize_network / parse_ip
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("192.0.2.0/24", "192.0.2.0/24", id="v4"),
        pytest.param(" 192.0.2.0/24 ", "192.0.2.0/24", id="v4-whitespace"),
        pytest.param("10.0.0.0/255.0.0.0", "10.0.0.0/8", id="v4-netmask"),
        pytest.param("2001:DB8::/32", "2001:db8::/32", id="v6-compressed-lower"),
        pytest.param("2001:0db8:0000::/48", "2001:db8::/48", id="v6-leading-zeros"),
        pytest.param("192.0.2.7", "192.0.2.7/32", id="bare-v4"),
        pytest.param("2001:db8::1", "2001:db8::1/128", id="bare-v6"),
        pytest.param("0.0.0.0/0", "0.0.0.0/0", id="v4-everything"),
    ],
)
def test_normalize_network_valid(raw: str, expected: str) -> None:
    assert normalize_network(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param("", "network.empty", id="empty"),
        pytest.param("  ", "network.empty", id="blank"),
        pytest.param("garbage", "network.invalid", id="garbage"),
        pytest.param("example.com", "network.invalid", id="domain"),
        pytest.param("10.0.0.0/33", "network.invalid", id="v4-prefix-too-long"),
        pytest.param("2001:db8::/129", "network.invalid", id="v6-prefix-too-long"),
        pytest.param("10.0.0/24", "network.invalid", id="three-octets"),
        pytest.param("010.0.0.0/8", "network.invalid", id="leading-zero-octet"),
        pytest.param("10.0.0.0 /24", "network.invalid", id="space-inside"),
        pytest.param("fe80::%eth0/64", "network.invalid", id="zone-id"),
        pytest.param("[2001:db8::]/32", "network.invalid", id="brackets"),
        pytest.param("10.0.0.5/24", "network.host_bits_set", id="v4-host-bits"),
        pytest.param("2001:db8::1/32", "network.host_bits_set", id="v6-host-bits"),
    ],
)
def test_normalize_network_invalid(raw: str, code: str) -> None:
    err = _raises(normalize_network, raw, code)
    assert err.name == raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            "10.0.0.5/24",
            "10.0.0.5/24 has host bits set; did you mean 10.0.0.0/24?",
            id="v4",
        ),
        pytest.param(
            "2001:db8::1/32",
            "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?",
            id="v6",
        ),
    ],
)
def test_normalize_network_host_bits_message(raw: str, message: str) -> None:
    assert _raises(normalize_network, raw, "network.host_bits_set").message == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("192.0.2.1", ipaddress.IPv4Address("192.0.2.1"), id="v4"),
        pytest.param(" 192.0.2.1 ", ipaddress.IPv4Address("192.0.2.1"), id="v4-ws"),
        pytest.param("2001:DB8::1", ipaddress.IPv6Address("2001:db8::1"), id="v6"),
        pytest.param(
            "::ffff:192.0.2.1", ipaddress.IPv6Address("::ffff:192.0.2.1"), id="mapped"
        ),
        pytest.param("[2001:db8::1]", None, id="v6-brackets"),
        pytest.param("fe80::1%eth0", None, id="zone-id"),
        pytest.param("192.0.2.0/24", None, id="cidr"),
        pytest.param("192.0.2", None, id="three-parts"),
        pytest.param("010.0.0.1", None, id="leading-zero"),
        pytest.param("example.com", None, id="domain"),
        pytest.param("", None, id="empty"),
    ],
)
def test_parse_ip(raw: str, expected: object) -> None:
    assert parse_ip(raw) == expected


# ---------------------------------------------------------------------------
# name_is_covered / covering_domain
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "domains", "expected"),
    [
        pytest.param("example.com", ["example.com"], True, id="apex"),
        pytest.param("www.example.com", ["example.com"], True, id="one-level"),
        pytest.param("a.b.c.example.com", ["example.com"], True, id="deep"),
        pytest.param("badexample.com", ["example.com"], False, id="sibling-string"),
        pytest.param("www.badexample.com", ["example.com"], False, id="sibling-sub"),
        pytest.param("example.com", ["ample.com"], False, id="suffix-without-dot"),
        pytest.param("com", ["example.com"], False, id="parent-of-entry"),
        pytest.param("example.com", ["dev.example.com"], False, id="apex-vs-sub-entry"),
        pytest.param("a.dev.example.com", ["dev.example.com"], True, id="sub-entry"),
        pytest.param("dev.example.com", ["dev.example.com"], True, id="sub-entry-apex"),
        pytest.param("example.com.evil.net", ["example.com"], False, id="prefix-trick"),
        pytest.param("example.org", ["example.com"], False, id="other-tld"),
        pytest.param("*.example.com", ["example.com"], True, id="wildcard-apex-entry"),
        pytest.param("*.x.example.com", ["example.com"], True, id="wildcard-deep"),
        pytest.param("*.example.com", ["x.example.com"], False, id="wildcard-too-wide"),
        pytest.param("*.badexample.com", ["example.com"], False, id="wildcard-sibling"),
        pytest.param("example.com", [], False, id="no-entries"),
        pytest.param("example.com", [""], False, id="empty-entry"),
        pytest.param("", ["example.com"], False, id="empty-name"),
        pytest.param("*.", ["example.com"], False, id="bare-wildcard"),
        pytest.param(
            "a.example.org", ["example.com", "example.org"], True, id="multi-second"
        ),
        pytest.param(
            "a.example.net", ["example.com", "example.org"], False, id="multi-none"
        ),
        pytest.param(
            "WWW.EXAMPLE.COM", ["example.com"], False, id="unnormalised-fails-closed"
        ),
    ],
)
def test_name_is_covered(name: str, domains: list[str], expected: bool) -> None:
    assert name_is_covered(name, domains) is expected


@pytest.mark.parametrize(
    ("raw_name", "raw_domain", "expected"),
    [
        pytest.param("WWW.Example.COM.", "example.com", True, id="case-and-dot"),
        pytest.param("www.example.com", "EXAMPLE.COM.", True, id="entry-case-and-dot"),
        pytest.param("shop.bücher.example", "bücher.example", True, id="idn-both"),
        pytest.param(
            "shop.bücher.example", "xn--bcher-kva.example", True, id="idn-vs-a-label"
        ),
        pytest.param(
            "shop.xn--bcher-kva.example", "bücher.example", True, id="a-label-vs-idn"
        ),
        pytest.param("*.BÜCHER.example.", "bücher.example", True, id="idn-wildcard"),
        pytest.param("bucher.example", "bücher.example", False, id="ascii-lookalike"),
        pytest.param("ＷＷＷ.example.com", "example.com", True, id="fullwidth"),
    ],
)
def test_coverage_after_normalisation(
    raw_name: str, raw_domain: str, expected: bool
) -> None:
    name = normalize_requested_name(raw_name)
    domain = normalize_domain(raw_domain)
    assert name_is_covered(name, [domain]) is expected


def test_name_is_covered_accepts_generators() -> None:
    assert name_is_covered("a.example.com", (d for d in ["x.org", "example.com"]))


@pytest.mark.parametrize(
    ("name", "domains", "expected"),
    [
        pytest.param(
            "a.dev.example.com",
            ["example.com", "dev.example.com"],
            "dev.example.com",
            id="longest-wins",
        ),
        pytest.param(
            "a.dev.example.com",
            ["dev.example.com", "example.com"],
            "dev.example.com",
            id="order-independent",
        ),
        pytest.param(
            "www.example.com",
            ["example.com", "dev.example.com"],
            "example.com",
            id="only-parent",
        ),
        pytest.param(
            "*.dev.example.com",
            ["example.com", "dev.example.com"],
            "dev.example.com",
            id="wildcard-base",
        ),
        pytest.param(
            "*.example.com",
            ["example.com", "dev.example.com"],
            "example.com",
            id="wildcard-not-child-entry",
        ),
        pytest.param(
            "badexample.com", ["example.com", "ample.com"], None, id="no-sibling"
        ),
        pytest.param("example.com", [], None, id="no-entries"),
    ],
)
def test_covering_domain(name: str, domains: list[str], expected: str | None) -> None:
    assert covering_domain(name, domains) == expected


# ---------------------------------------------------------------------------
# ip_is_covered
# ---------------------------------------------------------------------------

NETWORKS = ["192.0.2.0/24", "198.51.100.7/32", "2001:db8::/32"]


@pytest.mark.parametrize(
    ("ip", "networks", "expected"),
    [
        pytest.param("192.0.2.10", NETWORKS, True, id="v4-in"),
        pytest.param("192.0.2.0", NETWORKS, True, id="v4-network-address"),
        pytest.param("192.0.2.255", NETWORKS, True, id="v4-broadcast-address"),
        pytest.param("192.0.3.1", NETWORKS, False, id="v4-out"),
        pytest.param("198.51.100.7", NETWORKS, True, id="v4-slash32-exact"),
        pytest.param("198.51.100.8", NETWORKS, False, id="v4-slash32-neighbour"),
        pytest.param("2001:db8::1", NETWORKS, True, id="v6-in"),
        pytest.param("2001:DB8:0:0::ffff", NETWORKS, True, id="v6-uncompressed"),
        pytest.param("2001:db9::1", NETWORKS, False, id="v6-out"),
        pytest.param("::ffff:192.0.2.10", NETWORKS, False, id="v4-mapped-not-v4"),
        pytest.param(
            "::ffff:192.0.2.10", ["::ffff:0:0/96"], True, id="v4-mapped-in-v6-net"
        ),
        pytest.param("192.0.2.10", ["::ffff:0:0/96"], False, id="v4-not-in-mapped-net"),
        pytest.param("::", ["0.0.0.0/0"], False, id="v6-not-in-v4-all"),
        pytest.param("10.0.0.1", ["::/0"], False, id="v4-not-in-v6-all"),
        pytest.param("10.0.0.1", ["0.0.0.0/0"], True, id="v4-all"),
        pytest.param(
            ipaddress.ip_address("192.0.2.5"), NETWORKS, True, id="address-object"
        ),
        pytest.param("not-an-ip", NETWORKS, False, id="garbage-ip"),
        pytest.param("fe80::1%eth0", ["fe80::/10"], False, id="zone-id-ip"),
        pytest.param("10.0.0.1", ["garbage", "10.0.0.0/8"], True, id="skip-bad-entry"),
        pytest.param("10.0.0.5", ["10.0.0.5/24"], False, id="host-bits-entry-ignored"),
        pytest.param("10.0.0.1", [], False, id="no-networks"),
    ],
)
def test_ip_is_covered(
    ip: str | ipaddress.IPv4Address, networks: list[str], expected: bool
) -> None:
    assert ip_is_covered(ip, networks) is expected


# ---------------------------------------------------------------------------
# uncovered_names
# ---------------------------------------------------------------------------


def test_uncovered_names_all_covered() -> None:
    assert (
        uncovered_names(
            ["example.com", "*.example.com", "a.b.example.com"],
            ["192.0.2.1", "2001:db8::1"],
            ["example.com"],
            NETWORKS,
        )
        == []
    )


def test_uncovered_names_keeps_input_order_dns_then_ip() -> None:
    result = uncovered_names(
        ["z.other.org", "ok.example.com", "a.other.org", "badexample.com"],
        ["10.0.0.1", "192.0.2.1", "2001:db9::1"],
        ["example.com"],
        NETWORKS,
    )
    assert result == [
        "z.other.org",
        "a.other.org",
        "badexample.com",
        "10.0.0.1",
        "2001:db9::1",
    ]


def test_uncovered_names_deduplicates() -> None:
    result = uncovered_names(
        ["x.org", "x.org", "y.org", "x.org"],
        ["10.0.0.1", "10.0.0.1", "2001:DB9::1", "2001:db9:0::1"],
        ["example.com"],
        NETWORKS,
    )
    assert result == ["x.org", "y.org", "10.0.0.1", "2001:db9::1"]


def test_uncovered_names_reports_unparsable_ip_as_given() -> None:
    assert uncovered_names([], ["nope", "nope"], [], ["0.0.0.0/0"]) == ["nope"]


def test_uncovered_names_mapped_address_not_covered_by_v4() -> None:
    assert uncovered_names([], ["::ffff:192.0.2.1"], [], NETWORKS) == [
        "::ffff:c000:201"
    ]


def test_uncovered_names_accepts_one_shot_iterables() -> None:
    result = uncovered_names(
        iter(["a.example.com", "b.other.org"]),
        iter(["192.0.2.1", "10.0.0.1"]),
        iter(["example.com"]),
        iter(NETWORKS),
    )
    assert result == ["b.other.org", "10.0.0.1"]


def test_uncovered_names_active_and_assigned_sets() -> None:
    names = ["a.example.com", "b.example.org"]
    active = ["example.com", "example.org"]
    assigned = ["example.com"]
    assert uncovered_names(names, [], active, []) == []
    assert uncovered_names(names, [], assigned, []) == ["b.example.org"]


def test_uncovered_names_empty_request() -> None:
    assert uncovered_names([], [], [], []) == []


# ---------------------------------------------------------------------------
# property check (seeded, no hypothesis)
# ---------------------------------------------------------------------------

_LDH = "abcdefghijklmnopqrstuvwxyz0123456789-"
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def _random_label(rng: random.Random) -> str:
    length = rng.randint(1, 12)
    if length == 1:
        return rng.choice(_ALNUM)
    middle = "".join(rng.choice(_LDH) for _ in range(length - 2))
    label = rng.choice(_ALNUM) + middle + rng.choice(_ALNUM)
    # Avoid the reserved "ab--" shape so every generated name is valid.
    if label[2:4] == "--":
        label = label[:2] + "x" + label[3:]
    return label


def test_property_example_never_covers_badexample() -> None:
    rng = random.Random(20240501)
    for _ in range(2000):
        labels = [_random_label(rng) for _ in range(rng.randint(0, 4))]
        name = normalize_requested_name(".".join([*labels, "example", "com"]))
        assert name_is_covered(name, ["example.com"])
        assert not name_is_covered(name, ["badexample.com"])
        assert covering_domain(name, ["badexample.com", "example.com"]) == "example.com"
        wildcard = normalize_requested_name("*." + name)
        assert name_is_covered(wildcard, ["example.com"])
        assert not name_is_covered(wildcard, ["badexample.com"])


def test_property_glued_prefix_never_crosses_label_boundary() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        prefix = "".join(rng.choice(_LDH + ".") for _ in range(rng.randint(0, 10)))
        name = prefix + "example.com"
        expected = prefix == "" or prefix.endswith(".")
        assert name_is_covered(name, ["example.com"]) is expected
