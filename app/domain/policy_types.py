"""The policy engine's value types (SPEC 3): rules, policies and evaluation results.

Split out of :mod:`app.domain.policy`, which re-exports every name here; import
from there.  All are frozen dataclasses; rules hold their ``values`` in a
:class:`FrozenMapping`, so a cached :class:`~app.domain.policy.PolicyIndex` can
share policies between threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.choices import ACTIONS

__all__ = [
    "RULE_ACTIONS",
    "SUBJECT_FIELDS",
    "Allowed",
    "Enforced",
    "Evaluation",
    "FrozenMapping",
    "Judged",
    "Policy",
    "Rule",
    "Violation",
]

RULE_ACTIONS: tuple[str, ...] = (
    "enforce_values",
    "enforce_key_usage",
    "enforce_algorithm",
    "enforce_minimum_key_size",
    "enforce_digest",
    "enforce_max_validity",
    "enforce_min_validity",
    "disable_wildcard",
    "block_subdomains",
    "enforce_domain_suffix",
    "block_ip_in_san",
    "block_email_in_san",
    "require_san",
    "enforce_max_san_count",
    "block_ca_flag",
)
#: Subject fields ``enforce_values`` may set, in display order.
SUBJECT_FIELDS: tuple[str, ...] = (
    "organization",
    "organizational_unit",
    "country",
    "state",
    "locality",
)


class FrozenMapping(Mapping[str, Any]):
    """A read-only, hashable dict.  Nested lists become tuples, dicts FrozenMappings.

    Rules hold their ``values`` in one so that :class:`Rule` and :class:`Policy`
    stay hashable and nobody can mutate a policy shared by a cached index.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = {k: _freeze(v) for k, v in (data or {}).items()}

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMapping({self._data!r})"


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, FrozenMapping):
        return FrozenMapping(value)
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Rule:
    """One rule of a policy.  ``fail`` is ``"hard"`` or ``"soft"`` (anything else counts
    as hard).  ``values`` is frozen on construction; documents are validated by
    :mod:`app.domain.policy_schema`."""

    action: str
    fail: str = "hard"
    values: Mapping[str, Any] = field(default_factory=FrozenMapping)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", FrozenMapping(self.values))


@dataclass(frozen=True)
class Policy:
    """A policy (SPEC 3).  ``actions``/``domains`` are ``matching_criteria``; domain
    patterns are expected in normalised form (lower-case A-labels)."""

    name: str
    description: str = ""
    enabled: bool = True
    actions: frozenset[str] = frozenset(ACTIONS)
    domains: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", frozenset(self.actions))
        object.__setattr__(self, "domains", tuple(self.domains))
        object.__setattr__(self, "rules", tuple(self.rules))


@dataclass(frozen=True)
class Enforced:
    """A value a policy fills in and locks.  ``policy`` names the policy, or several
    joined by ``", "`` when more than one demands it (e.g. a usage union)."""

    field: str
    value: Any
    policy: str


@dataclass(frozen=True)
class Violation:
    """A problem with a request, from policy or plain validation.  ``code`` is stable;
    ``message`` is a sentence for the requester naming the values at fault."""

    code: str
    message: str
    field: str | None
    severity: str = "hard"
    policy: str | None = None
    rule: str | None = None
    expected: str | None = None
    actual: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Allowed:
    """What the crypto step may offer after policy.  ``min_validity > max_validity``
    happens only together with a ``policy.conflict`` violation."""

    algorithms: tuple[str, ...]
    digests: tuple[str, ...]
    min_validity: int
    max_validity: int
    required_key_usage: tuple[str, ...]
    required_extended_key_usage: tuple[str, ...]
    #: Why algorithms are missing from ``algorithms``: one (policy, reason) per rule that
    #: removed some, e.g. ("Strong keys", "requires keys of at least 3072 bits, which no EC
    #: curve offers"), so the UI can say why next to the choice, as it does for locks.
    algorithm_limits: tuple[tuple[str, str], ...] = ()

    def clamp_validity(self, days: int) -> int:
        """``days`` moved into ``[min_validity, max_validity]`` (e.g. for the default)."""
        return max(self.min_validity, min(days, self.max_validity))


class Judged:
    """Reading a ``violations`` tuple: hard ones block, soft ones warn. Shared by the
    policy evaluation and the full assessment of a request, so "blocked" means one thing."""

    violations: tuple[Violation, ...]

    @property
    def hard(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity != "soft")

    @property
    def soft(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "soft")

    @property
    def blocked(self) -> bool:
        return bool(self.hard)

    def for_field(self, name: str) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.field == name)


@dataclass(frozen=True)
class Evaluation(Judged):
    """Result of :func:`evaluate`: enforced values by field, violations, what is allowed."""

    enforced: Mapping[str, Enforced]
    violations: tuple[Violation, ...]
    allowed: Allowed
    policies: tuple[str, ...]
