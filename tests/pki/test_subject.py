"""Subject fields: validation rules and the X.509 name they produce."""

from __future__ import annotations

import pytest
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from app.pki.errors import InvalidCAParameters, InvalidSubject
from app.pki.subject import SubjectFields, build_name


def test_full_name_order_and_string_types() -> None:
    fields = SubjectFields(
        common_name="Ünïcode Root CA",
        organization="Example GmbH",
        organizational_unit="PKI",
        country="DE",
        state="Berlin",
        locality="Berlin",
    )
    name = build_name(fields)
    assert [a.oid for a in name] == [
        NameOID.COUNTRY_NAME,
        NameOID.STATE_OR_PROVINCE_NAME,
        NameOID.LOCALITY_NAME,
        NameOID.ORGANIZATION_NAME,
        NameOID.ORGANIZATIONAL_UNIT_NAME,
        NameOID.COMMON_NAME,
    ]
    for attr in name:
        expected = (
            _ASN1Type.PrintableString
            if attr.oid == NameOID.COUNTRY_NAME
            else _ASN1Type.UTF8String
        )
        assert attr._type == expected, attr.oid
    assert name.rfc4514_string() == (
        "CN=Ünïcode Root CA,OU=PKI,O=Example GmbH,L=Berlin,ST=Berlin,C=DE"
    )


def test_blank_optional_fields_are_absent() -> None:
    fields = SubjectFields("Only CN", organization="", organizational_unit="  ", country="")
    assert fields.organization is None
    assert fields.organizational_unit is None
    assert fields.country is None
    assert build_name(fields).rfc4514_string() == "CN=Only CN"


def test_length_limits_count_characters() -> None:
    fields = SubjectFields(
        "É" * 32, organization="Ö" * 64, organizational_unit="U" * 64,
        state="S" * 128, locality="L" * 128,
    )
    assert len(build_name(fields)) == 5


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"common_name": ""}, "common_name", "Common name is required."),
        ({"common_name": "   "}, "common_name", "Common name is required."),
        (
            {"common_name": "x" * 65},
            "common_name",
            "Common name must be at most 64 characters (got 65).",
        ),
        (
            {"common_name": "É" * 33},
            "common_name",
            "Common name must be at most 64 bytes in UTF-8; accented and non-Latin "
            "letters take 2 to 4 bytes each.",
        ),
        (
            {"common_name": "ok", "organization": "x" * 65},
            "organization",
            "Organization must be at most 64 characters (got 65).",
        ),
        (
            {"common_name": "ok", "organizational_unit": "x" * 65},
            "organizational_unit",
            "Organizational unit must be at most 64 characters (got 65).",
        ),
        (
            {"common_name": "ok", "state": "x" * 129},
            "state",
            "State or province must be at most 128 characters (got 129).",
        ),
        (
            {"common_name": "ok", "locality": "x" * 129},
            "locality",
            "Locality must be at most 128 characters (got 129).",
        ),
        (
            {"common_name": " padded"},
            "common_name",
            "Common name must not start or end with spaces.",
        ),
        (
            {"common_name": "bad\x00name"},
            "common_name",
            "Common name must not contain control characters.",
        ),
        ({"common_name": 42}, "common_name", "Common name must be text."),
    ],
)
def test_invalid_fields(kwargs: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(InvalidSubject) as exc:
        SubjectFields(**kwargs)  # type: ignore[arg-type]
    assert str(exc.value) == message
    assert exc.value.field == field


@pytest.mark.parametrize("country", ["de", "DEU", "D", "D1", "ÄÖ", " DE", "ZZ", "UK", "AA"])
def test_country_must_be_an_iso_3166_alpha_2_code(country: str) -> None:
    with pytest.raises(InvalidCAParameters) as exc:
        SubjectFields("ok", country=country)
    assert str(exc.value).startswith("Country must be an ISO 3166-1 two-letter code")
    assert exc.value.field == "country"


@pytest.mark.parametrize("country", ["GB", "US", "DE", "JP", "XK"])
def test_assigned_country_codes_are_accepted(country: str) -> None:
    assert SubjectFields("ok", country=country).country == country


def test_fields_are_frozen() -> None:
    fields = SubjectFields("CA")
    with pytest.raises(AttributeError):
        fields.common_name = "other"  # type: ignore[misc]
