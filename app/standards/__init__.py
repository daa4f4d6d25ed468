"""Facts from standards that both the pure request rules (``app.domain``) and the PKI
core (``app.pki``) rely on, so the check at intake and the check at signing cannot drift
apart. Pure data: imports nothing of the application.

- RFC 5280 Appendix A upper bounds on the subject attributes users may set, in characters.
- ISO 3166-1 alpha-2 country codes (from the ``iso3166`` package's list, not a pattern:
  ``ZZ`` has the right shape and is no country).
"""
from __future__ import annotations

from typing import Final

from iso3166 import countries_by_alpha2

SUBJECT_MAX_LENGTH: Final[dict[str, int]] = {
    "common_name": 64,           # ub-common-name
    "organization": 64,          # ub-organization-name
    "organizational_unit": 64,   # ub-organizational-unit-name
    "state": 128,                # ub-state-name
    "locality": 128,             # ub-locality-name
}

SUBJECT_LABELS: Final[dict[str, str]] = {
    "common_name": "Common name",
    "organization": "Organization",
    "organizational_unit": "Organizational unit",
    "country": "Country",
    "state": "State or province",
    "locality": "Locality",
}

COUNTRY_CODES: Final[frozenset[str]] = frozenset(countries_by_alpha2)


def is_country_code(value: str) -> bool:
    """True for an assigned ISO 3166-1 alpha-2 code, exactly as written (upper case)."""
    return value in COUNTRY_CODES
