"""The subject checks at intake use the PKI layer's bounds and country list."""
from __future__ import annotations

import pytest

from app.domain.request import CertificateRequest
from app.domain.validation import check_request_values
from app.pki.errors import InvalidSubject
from app.pki.subject import SubjectFields


def codes(**fields) -> list[str]:
    return [v.code for v in check_request_values(CertificateRequest("www.example.com", **fields))]


@pytest.mark.parametrize("fields", [
    {"organization": "Ä" * 64}, {"organizational_unit": "x" * 64}, {"state": "s" * 128},
    {"locality": "l" * 128}, {"country": "GB"}, {"country": "XK"},
    {"algorithm": "rsa-2048", "key_usage": ("digitalSignature", "keyEncipherment")},
    {"algorithm": "ec-256", "key_usage": ("digitalSignature", "keyAgreement")},
    {"extended_key_usage": ("timeStamping",)},
])
def test_values_at_the_bounds_pass_here_and_in_the_pki_layer(fields) -> None:
    assert codes(**fields) == []
    subject = {k: v for k, v in fields.items() if k in SubjectFields.__dataclass_fields__}
    SubjectFields("www.example.com", **subject)  # does not raise


@pytest.mark.parametrize(("fields", "code"), [
    ({"organization": "O\tU"}, "subject.control_characters"),
    ({"locality": "a\nb"}, "subject.control_characters"),
    ({"country": "gb"}, "subject.country_unknown"),
    ({"country": "UK"}, "subject.country_unknown"),
    ({"state": "s" * 129}, "subject.too_long"),
])
def test_values_the_pki_layer_refuses_are_refused_here(fields, code) -> None:
    assert codes(**fields) == [code]
    with pytest.raises(InvalidSubject):
        SubjectFields("www.example.com", **fields)


def test_a_too_long_common_name_says_what_to_do() -> None:
    (violation,) = check_request_values(CertificateRequest("a" * 53 + ".example.com"))
    assert violation.code == "subject.too_long" and violation.field == "common_name"
    assert "at most 64 characters" in violation.message and "has 65" in violation.message
    assert "subject alternative names" in violation.message
