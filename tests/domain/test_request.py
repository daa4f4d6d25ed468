"""CertificateRequest: derived facts and the JSON round trip orders rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.domain.choices import (
    ALGORITHMS,
    algorithm_bits,
    algorithm_family,
    algorithm_for_key,
)
from app.domain.request import CertificateRequest, PublicKeyFacts

FULL = CertificateRequest(
    common_name="www.example.com",
    dns_names=("api.example.com", "*.example.com"),
    ip_addresses=("192.0.2.1", "2001:db8::1"),
    emails=("ops@example.com",),
    organization="Acme", organizational_unit="Ops", country="DE", state="Berlin",
    locality="Berlin", algorithm="ec-384", digest="sha384", validity_days=90,
    key_usage=("digitalSignature",), extended_key_usage=("serverAuth", "clientAuth"),
    provider_id="00000000-0000-4000-8000-000000000001", issuer_id="7c0f",
    action="certificate.renew",
    csr_key=PublicKeyFacts("ecdsa", 384, "secp384r1"), requests_ca=True,
)


@pytest.mark.parametrize("request_", [
    pytest.param(FULL, id="every-field"),
    pytest.param(CertificateRequest(""), id="empty"),
    pytest.param(CertificateRequest("a.example.com", csr_key=PublicKeyFacts("rsa", 4096)),
                 id="csr-without-curve"),
])
def test_round_trip_through_json(request_: CertificateRequest) -> None:
    stored = json.loads(json.dumps(request_.to_dict()))
    assert CertificateRequest.from_dict(stored) == request_


def test_from_dict_defaults_missing_and_ignores_unknown_keys() -> None:
    loaded = CertificateRequest.from_dict({"common_name": "a.example.com", "added_later": 1})
    assert loaded == CertificateRequest("a.example.com")


@pytest.mark.parametrize(("data", "key"), [
    pytest.param({"common_name": 5}, "common_name", id="cn"),
    pytest.param({"dns_names": "a.example.com"}, "dns_names", id="names-not-list"),
    pytest.param({"key_usage": [1]}, "key_usage", id="usage-not-str"),
    pytest.param({"digest": 256}, "digest", id="digest"),
    pytest.param({"validity_days": "90"}, "validity_days", id="validity-str"),
    pytest.param({"validity_days": True}, "validity_days", id="validity-bool"),
    pytest.param({"csr_key": {"family": "rsa"}}, "csr_key", id="csr-key"),
    pytest.param({"requests_ca": "yes"}, "requests_ca", id="ca"),
    pytest.param({"action": None}, "action", id="action"),
])
def test_from_dict_refuses_wrong_types(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match=key):
        CertificateRequest.from_dict(data)


def test_lists_become_tuples_and_request_is_hashable() -> None:
    request = CertificateRequest("a.example.com", dns_names=["b.example.com"],  # type: ignore[arg-type]
                                 key_usage=["digitalSignature"])  # type: ignore[arg-type]
    assert request.dns_names == ("b.example.com",)
    assert request.key_usage == ("digitalSignature",)
    assert hash(request) == hash(request.replace())


@pytest.mark.parametrize(("request_", "names"), [
    pytest.param(CertificateRequest("a.example.com", dns_names=("b.example.com",
                                                                "a.example.com")),
                 ("a.example.com", "b.example.com"), id="cn-first-deduplicated"),
    pytest.param(CertificateRequest("", dns_names=("b.example.com",)), ("b.example.com",),
                 id="no-cn"),
    pytest.param(CertificateRequest("192.0.2.1", dns_names=("b.example.com",)),
                 ("b.example.com",), id="ip-cn-is-not-a-dns-name"),
    pytest.param(CertificateRequest("*.example.com"), ("*.example.com",), id="wildcard"),
])
def test_all_dns_names(request_: CertificateRequest, names: tuple[str, ...]) -> None:
    assert request_.all_dns_names() == names


@pytest.mark.parametrize(("request_", "family", "bits"), [
    pytest.param(CertificateRequest("x"), None, None, id="nothing-chosen"),
    pytest.param(CertificateRequest("x", algorithm="rsa-3072"), "rsa", 3072, id="rsa"),
    pytest.param(CertificateRequest("x", algorithm="ec-521"), "ecdsa", 521, id="ec"),
    pytest.param(CertificateRequest("x", algorithm="rsa-1024"), None, None, id="unknown-id"),
    pytest.param(CertificateRequest("x", algorithm="ec-256",
                                    csr_key=PublicKeyFacts("ed25519", 256)),
                 "ed25519", 256, id="csr-wins"),
])
def test_key_facts(request_: CertificateRequest, family: str | None, bits: int | None) -> None:
    assert (request_.key_family(), request_.key_bits()) == (family, bits)


def test_algorithm_helpers() -> None:
    assert [(algorithm_family(a), algorithm_bits(a)) for a in ALGORITHMS] == [
        ("rsa", 2048), ("rsa", 3072), ("rsa", 4096),
        ("ecdsa", 256), ("ecdsa", 384), ("ecdsa", 521)]
    assert algorithm_for_key("ecdsa", 384) == "ec-384"
    assert algorithm_for_key("rsa", 8192) is None
    with pytest.raises(ValueError, match="unknown algorithm"):
        algorithm_family("dsa-1024")
