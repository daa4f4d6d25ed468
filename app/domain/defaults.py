"""The values a request gets when its requester leaves them out — the wizard shows them
pre-filled, the courier API applies them. One place, so both channels agree."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.choices import (
    DEFAULT_ALGORITHM,
    DEFAULT_DIGEST,
    DEFAULT_EXTENDED_KEY_USAGE,
    DEFAULT_KEY_USAGE,
    DEFAULT_VALIDITY_DAYS,
    EC_FORBIDDEN_KEY_USAGES,
    MAX_VALIDITY_DAYS,
    MIN_VALIDITY_DAYS,
)
from app.domain.policy import Allowed, Evaluation
from app.domain.request import CertificateRequest


def _preferred(default: str, allowed: Sequence[str]) -> str:
    return default if not allowed or default in allowed else allowed[0]


def default_algorithm(allowed: Allowed | None) -> str:
    """ec-256 when policy allows it, else the first algorithm it allows."""
    return _preferred(DEFAULT_ALGORITHM, allowed.algorithms if allowed else ())


def default_digest(allowed: Allowed | None) -> str:
    return _preferred(DEFAULT_DIGEST, allowed.digests if allowed else ())


def default_validity(allowed: Allowed | None) -> int:
    """365 days, clamped to the policy's bounds (unless the bounds contradict each other,
    which is reported as a conflict elsewhere)."""
    low, high = (allowed.min_validity, allowed.max_validity) if allowed \
        else (MIN_VALIDITY_DAYS, MAX_VALIDITY_DAYS)
    return min(max(DEFAULT_VALIDITY_DAYS, low), high) if low <= high else DEFAULT_VALIDITY_DAYS


def default_key_usage(is_ec: bool) -> tuple[str, ...]:
    """digitalSignature + keyEncipherment; an EC key cannot encipher, so only the first."""
    return tuple(u for u in DEFAULT_KEY_USAGE if not (is_ec and u in EC_FORBIDDEN_KEY_USAGES))


def default_extended_key_usage() -> tuple[str, ...]:
    return tuple(DEFAULT_EXTENDED_KEY_USAGE)


def with_defaults(request: CertificateRequest, evaluation: Evaluation) -> CertificateRequest:
    """Fill what the requester left out. A policy-enforced field stays empty for
    ``apply_enforced`` to fill; nothing the requester chose is changed."""
    enforced, allowed = evaluation.enforced, evaluation.allowed
    changes: dict[str, Any] = {}
    if request.csr_key is None and not request.algorithm and "algorithm" not in enforced:
        changes["algorithm"] = default_algorithm(allowed)
    if not request.digest and "digest" not in enforced:
        changes["digest"] = default_digest(allowed)
    if request.validity_days is None and "validity_days" not in enforced:
        changes["validity_days"] = default_validity(allowed)
    if not request.key_usage:
        is_ec = request.replace(**changes).key_family() == "ecdsa"
        changes["key_usage"] = default_key_usage(is_ec)
    if not request.extended_key_usage:
        changes["extended_key_usage"] = default_extended_key_usage()
    return request.replace(**changes) if changes else request
