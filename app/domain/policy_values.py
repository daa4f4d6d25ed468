"""Validators for each rule's ``values`` in a policy document.

Split out of :mod:`app.domain.policy_schema`, which re-exports
:data:`RULE_VALUES` and :data:`MAX_RSA_BITS` and walks documents with these
checkers.  A checker returns the normalised value or raises :class:`_Invalid`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.domain.choices import (
    ALGORITHM_FAMILIES,
    ALGORITHMS,
    DIGESTS,
    EXTENDED_KEY_USAGES,
    KEY_USAGES,
    MAX_SAN_ENTRIES,
    MAX_VALIDITY_DAYS,
    MIN_VALIDITY_DAYS,
)
from app.domain.errors import InvalidName
from app.domain.names import normalize_domain
from app.domain.policy_types import RULE_ACTIONS

__all__ = ["MAX_RSA_BITS", "RULE_VALUES"]

MAX_RSA_BITS = 16384


class _Invalid(Exception):
    """Raised by a value checker; the text follows "<path>: "."""


Checker = Callable[[Any], Any]


def _text(limit: int) -> Checker:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
            raise _Invalid(f"must be a non-empty string of at most {limit} characters")
        if not value.strip().isprintable():
            raise _Invalid("must not contain control characters")
        return value.strip()

    return check


def _country(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if len(code) != 2 or not (code.isascii() and code.isalpha()):
        raise _Invalid(f"must be a two-letter ISO 3166 country code like 'DE', not {value!r}")
    return code


def _integer(low: int, high: int) -> Checker:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Invalid(f"must be an integer from {low} to {high}")
        return value

    return check


def _one_of(choices: tuple[str, ...]) -> Checker:
    def check(value: Any) -> str:
        if value not in choices:
            raise _Invalid(f"{value!r} is not allowed; expected one of: {', '.join(choices)}")
        return value

    return check


def _usages(known: tuple[str, ...]) -> Checker:
    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise _Invalid(f"must be a list of: {', '.join(known)}")
        unknown = [v for v in value if v not in known]
        if unknown:
            raise _Invalid(f"unknown usage {_shown(unknown)}; expected any of: {', '.join(known)}")
        return tuple(dict.fromkeys(value))

    return check


def _suffix(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid("must be a domain name like 'example.com'")
    try:
        return normalize_domain(value.strip().removeprefix("."))
    except InvalidName as exc:
        raise _Invalid(exc.message.rstrip(".")) from None


#: Per rule action: the ``values`` keys it accepts and their checkers.
_RULE_CHECKERS: dict[str, dict[str, Checker]] = {
    "enforce_values": {
        "organization": _text(64),
        "organizational_unit": _text(64),
        "country": _country,
        "state": _text(128),
        "locality": _text(128),
    },
    "enforce_key_usage": {
        "key_usage": _usages(KEY_USAGES),
        "extended_key_usage": _usages(EXTENDED_KEY_USAGES),
    },
    "enforce_algorithm": {"algorithm": _one_of(ALGORITHM_FAMILIES + ALGORITHMS)},
    "enforce_minimum_key_size": {
        "minimum_bits": _integer(1, MAX_RSA_BITS),
        "minimum_ec_bits": _integer(1, 521),
    },
    "enforce_digest": {"digest": _one_of(DIGESTS)},
    "enforce_max_validity": {"max_days": _integer(MIN_VALIDITY_DAYS, MAX_VALIDITY_DAYS)},
    "enforce_min_validity": {"min_days": _integer(MIN_VALIDITY_DAYS, MAX_VALIDITY_DAYS)},
    "enforce_domain_suffix": {"suffix": _suffix},
    "enforce_max_san_count": {"max_count": _integer(1, MAX_SAN_ENTRIES)},
}
# Rules whose keys are all optional but at least one must be given.
_AT_LEAST_ONE = {"enforce_values", "enforce_key_usage"}
_OPTIONAL = {("enforce_minimum_key_size", "minimum_ec_bits")}

#: Accepted ``values`` keys per rule action (empty for rules without values).
RULE_VALUES: Mapping[str, tuple[str, ...]] = {
    action: tuple(_RULE_CHECKERS.get(action, {})) for action in RULE_ACTIONS
}


def _shown(items: list[Any]) -> str:
    return ", ".join(repr(i) for i in items[:5]) + (" ..." if len(items) > 5 else "")
