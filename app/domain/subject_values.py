"""The subject attributes of a request, judged by the same bounds and country list the PKI
core applies when it signs (``app.standards``), so a request that would be refused in the
worker is refused at intake instead, with a stable code.

Codes: ``subject.too_long``, ``subject.control_characters``, ``subject.country_unknown``.
"""
from __future__ import annotations

import unicodedata

from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.standards import SUBJECT_LABELS, SUBJECT_MAX_LENGTH, is_country_code

__all__ = ["check_subject_values"]

_TEXT_FIELDS = ("common_name", "organization", "organizational_unit", "state", "locality")


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:39] + "\u2026"


def _size(name: str, value: str) -> int:
    # The CN limit is counted in UTF-8 bytes, as app.pki.subject (and cryptography) count
    # it; a normalised DNS common name is ASCII, so bytes and characters agree there.
    return len(value.encode("utf-8")) if name == "common_name" else len(value)


def check_subject_values(request: CertificateRequest) -> list[Violation]:
    """One violation per subject attribute the certificate could not carry. Unset fields
    are not judged. Never raises."""
    found: list[Violation] = []
    for name in _TEXT_FIELDS:
        value = getattr(request, name)
        if not value:
            continue
        label, limit = SUBJECT_LABELS[name], SUBJECT_MAX_LENGTH[name]
        if any(unicodedata.category(ch) == "Cc" for ch in value):
            found.append(Violation(
                code="subject.control_characters", field=name,
                message=f"{label} must not contain control characters (tabs, line breaks "
                        "and the like)."))
        elif _size(name, value) > limit:
            hint = (" Keep the long name in the subject alternative names and choose a "
                    "shorter common name (or leave the common name to a SAN)."
                    if name == "common_name" else "")
            found.append(Violation(
                code="subject.too_long", field=name, expected=f"<= {limit}",
                actual=str(_size(name, value)),
                message=f"{label} may be at most {limit} characters in a certificate "
                        f"(RFC 5280); '{_shown(value)}' has {_size(name, value)}.{hint}"))
    if request.country and not is_country_code(request.country):
        found.append(Violation(
            code="subject.country_unknown", field="country", actual=request.country[:8],
            message=f"Country must be an ISO 3166-1 two-letter code such as US, GB or DE; "
                    f"'{request.country[:8]}' is not one."))
    return found
