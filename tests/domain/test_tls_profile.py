"""The TLS server profile as the pure domain judges it (``check_tls_profile``): each
refusal code, the soft P-521 warning, and nothing for requests outside the profile."""
from __future__ import annotations

import pytest

from app.domain.request import CertificateRequest
from app.domain.validation import check_tls_profile

TLS = dict(common_name="www.example.com", algorithm="ec-256", digest="sha256",
           key_usage=("digitalSignature",), extended_key_usage=("serverAuth",))


def codes(**changes) -> list[tuple[str, str]]:
    return [(v.code, v.severity) for v in check_tls_profile(
        CertificateRequest(**{**TLS, **changes}))]


def test_a_plain_tls_server_request_fits() -> None:
    assert codes() == []
    assert codes(extended_key_usage=("serverAuth", "clientAuth")) == []


@pytest.mark.parametrize(("changes", "code"), [
    ({"extended_key_usage": ("serverAuth", "emailProtection")}, "tls.extended_key_usage"),
    ({"emails": ("ops@example.com",)}, "tls.email_san"),
    ({"algorithm": "rsa-2048", "key_usage": ("keyEncipherment",)}, "tls.digital_signature"),
    ({"key_usage": ("digitalSignature", "nonRepudiation")}, "tls.key_usage"),
    ({"key_usage": ("digitalSignature", "dataEncipherment"), "algorithm": "rsa-2048"},
     "tls.key_usage"),
])
def test_each_tls_rule_refuses_with_its_code(changes, code) -> None:
    assert codes(**changes) == [(code, "hard")]


def test_a_p521_key_for_tls_is_a_soft_warning_only() -> None:
    assert codes(algorithm="ec-521", digest="sha512") == [("tls.p521_key", "soft")]


def test_requests_outside_the_tls_profile_keep_the_general_rules() -> None:
    assert codes(extended_key_usage=("clientAuth", "emailProtection"),
                 emails=("ops@example.com",), algorithm="ec-521") == []
