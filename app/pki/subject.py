"""Distinguished names for the certificates the platform issues.

:class:`SubjectFields` validates on construction, so an instance that exists can always
be turned into an :class:`x509.Name` by :func:`build_name`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, fields
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID

from app.pki.errors import InvalidSubject
from app.standards import SUBJECT_LABELS, SUBJECT_MAX_LENGTH, is_country_code

# Upper bounds (RFC 5280 Appendix A) and the ISO 3166-1 list live in ``app.standards``,
# which the intake checks in ``app.domain`` read too.
_MAX_LENGTH: Final[dict[str, int]] = SUBJECT_MAX_LENGTH
_LABELS: Final[dict[str, str]] = SUBJECT_LABELS

# Conventional big-endian order (C first, CN last), as most CAs and OpenSSL print it.
_ORDER: Final[tuple[tuple[str, x509.ObjectIdentifier], ...]] = (
    ("country", NameOID.COUNTRY_NAME),
    ("state", NameOID.STATE_OR_PROVINCE_NAME),
    ("locality", NameOID.LOCALITY_NAME),
    ("organization", NameOID.ORGANIZATION_NAME),
    ("organizational_unit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("common_name", NameOID.COMMON_NAME),
)


@dataclass(frozen=True)
class SubjectFields:
    """The subject attributes a user may set.

    Guarantees after construction: blank or whitespace-only optional fields are ``None``;
    the common name is 1-64 characters and at most 64 UTF-8 bytes; O/OU are at most 64
    and ST/L at most 128 characters; the country is an assigned ISO 3166-1
    alpha-2 code in upper case; no field has leading or trailing whitespace or control
    characters. Otherwise raises :class:`InvalidSubject`
    (an :class:`InvalidCAParameters`) whose ``field`` names the attribute at fault.
    """

    common_name: str
    organization: str | None = None
    organizational_unit: str | None = None
    country: str | None = None
    state: str | None = None
    locality: str | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and not isinstance(value, str):
                raise InvalidSubject(f"{_LABELS[f.name]} must be text.", field=f.name)
            if value is not None and not value.strip():
                # Forms submit blank inputs as "" (or stray spaces), which mean "not set".
                object.__setattr__(self, f.name, None)
        if self.common_name is None:
            raise InvalidSubject("Common name is required.", field="common_name")
        for name, limit in _MAX_LENGTH.items():
            _check_text(name, getattr(self, name), limit)
        if len(self.common_name.encode("utf-8")) > _MAX_LENGTH["common_name"]:
            # cryptography counts the CN limit in UTF-8 bytes, not characters, and some
            # relying parties do too; the stricter reading keeps every name buildable.
            raise InvalidSubject(
                "Common name must be at most 64 bytes in UTF-8; accented and non-Latin "
                "letters take 2 to 4 bytes each.",
                field="common_name",
            )
        if self.country is not None and not is_country_code(self.country):
            raise InvalidSubject(
                "Country must be an ISO 3166-1 two-letter code in upper case, such as US "
                f"or DE; {self.country[:8]!r} is not one.",
                field="country",
            )


def _check_text(name: str, value: str | None, limit: int) -> None:
    if value is None:
        return
    label = _LABELS[name]
    if value != value.strip():
        # Invisible whitespace makes names that look equal compare unequal in path building.
        raise InvalidSubject(
            f"{label} must not start or end with spaces.", field=name
        )
    if len(value) > limit:
        raise InvalidSubject(
            f"{label} must be at most {limit} characters (got {len(value)}).", field=name
        )
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise InvalidSubject(f"{label} must not contain control characters.", field=name)


def build_name(subject: SubjectFields) -> x509.Name:
    """Build the X.509 name for validated subject fields, in the order C, ST, L, O, OU, CN.

    Every attribute is encoded as UTF8String except countryName, which cryptography
    encodes as PrintableString by default as RFC 5280 requires; we rely on those
    defaults rather than pass cryptography's private ``_ASN1Type``. Never raises for a
    constructed :class:`SubjectFields`.
    """
    attributes = [
        x509.NameAttribute(oid, getattr(subject, name))
        for name, oid in _ORDER
        if getattr(subject, name) is not None
    ]
    return x509.Name(attributes)
