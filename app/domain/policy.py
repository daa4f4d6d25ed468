"""The policy engine (SPEC 3): which policies apply, and what they demand.

Contract
--------
* :func:`evaluate` is pure and total: given a request and policies it returns
  an :class:`Evaluation` and never raises for any policy content.  A rule it
  cannot understand (unknown action, malformed ``values``) yields a *hard*
  ``policy.invalid_rule`` violation: an unreadable rule must block, never pass.
* Only fields that are set are judged (``None`` / ``""`` / ``()`` are "not yet
  entered"): at wizard step 0 only names exist, and an empty field under an
  enforce rule is filled by :func:`apply_enforced`, not reported.
* Merging is most-restrictive-wins per field; two policies demanding different
  exact values for one field give one hard ``policy.conflict`` naming them all.

Pattern semantics (decided where SPEC is silent)
------------------------------------------------
``example.com`` matches that name only; ``*.example.com`` matches the apex and
every subdomain on label boundaries.  A requested wildcard ``*.B`` matches a
pattern when some name the certificate would be valid for (``x.B``) matches it:
so ``*.B`` hits ``*.Q`` when B is Q or under Q, or when Q is one label below B,
and hits the exact pattern ``P`` when P is one label below B.  Otherwise a
wildcard certificate could slip past a policy written for a name it covers.
IP and e-mail SANs never match domain patterns.  A policy without patterns
applies to nothing.  Rules then judge *every* name of the request, not only
those that matched.

Violation codes: ``policy.<rule action>`` for a broken rule (e.g.
``policy.enforce_digest``; severity = the rule's ``fail``), plus the always-hard
``policy.conflict``, ``policy.key_usage_incompatible`` and ``policy.invalid_rule``.
``enforce_minimum_key_size`` holds EC curves to ``minimum_ec_bits`` when given,
else to ``minimum_bits`` -- so ``{"minimum_bits": 2048}`` alone excludes EC keys.
``enforce_max_san_count`` counts the CN, which the certificate repeats as a SAN.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.choices import (
    ACTIONS,
    ALGORITHM_FAMILIES,
    ALGORITHMS,
    DIGESTS,
    EC_FORBIDDEN_KEY_USAGES,
    EXTENDED_KEY_USAGES,
    KEY_USAGES,
    MAX_VALIDITY_DAYS,
    MIN_VALIDITY_DAYS,
    algorithm_bits,
    algorithm_family,
)
from app.domain.request import CertificateRequest

__all__ = [
    "RULE_ACTIONS",
    "SUBJECT_FIELDS",
    "Allowed",
    "Enforced",
    "Evaluation",
    "FrozenMapping",
    "Policy",
    "PolicyIndex",
    "Rule",
    "Violation",
    "applicable_policies",
    "apply_enforced",
    "evaluate",
    "pattern_base",
    "pattern_matches",
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

    def clamp_validity(self, days: int) -> int:
        """``days`` moved into ``[min_validity, max_validity]`` (e.g. for the default)."""
        return max(self.min_validity, min(days, self.max_validity))


@dataclass(frozen=True)
class Evaluation:
    """Result of :func:`evaluate`: enforced values by field, violations, what is allowed."""

    enforced: Mapping[str, Enforced]
    violations: tuple[Violation, ...]
    allowed: Allowed
    policies: tuple[str, ...]

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


# --------------------------------------------------------------------------
# Pattern matching
# --------------------------------------------------------------------------


def _canon(name: str) -> str:
    # Names and patterns are normalised upstream; folding case and one
    # trailing dot here costs nothing and keeps the oracle and index agreeing.
    return name.lower().removesuffix(".")


def _under(name: str, base: str) -> bool:
    return bool(base) and (name == base or name.endswith("." + base))


def _parent(name: str) -> str:
    return name.partition(".")[2]


def pattern_base(pattern: str) -> str:
    """The domain a pattern is about: ``*.example.com`` and ``example.com`` → ``example.com``."""
    return _canon(pattern).removeprefix("*.")


def pattern_matches(pattern: str, name: str) -> bool:
    """True when the requested DNS ``name`` falls under ``pattern`` (see module docs).

    Both are expected normalised; IP literals and e-mail addresses never match
    a pattern in practice because patterns are DNS names.  Never raises.
    """
    p, n = _canon(pattern), _canon(name)
    if not p or not n or p == "*." or n == "*.":
        return False
    if n.startswith("*."):
        base = n[2:]
        if p.startswith("*."):
            return _under(base, p[2:]) or _parent(p[2:]) == base
        return _parent(p) == base
    if p.startswith("*."):
        return _under(n, p[2:])
    return n == p


def applicable_policies(
    request: CertificateRequest, policies: Iterable[Policy]
) -> list[Policy]:
    """Enabled policies whose actions include ``request.action`` and whose patterns
    match any of the request's DNS names (CN + SAN DNS names), sorted by name
    (stable for equal names).  The brute-force oracle for :class:`PolicyIndex`."""
    names = request.all_dns_names()
    found = [
        p
        for p in policies
        if p.enabled
        and request.action in p.actions
        and any(pattern_matches(pat, n) for pat in p.domains for n in names)
    ]
    return sorted(found, key=lambda p: p.name)


class PolicyIndex:
    """Answers :func:`applicable_policies` in O(labels per requested name).

    Exact patterns are indexed by name, ``*.`` patterns by their base; both also
    by their parent domain so a requested wildcard ``*.B`` finds patterns one
    label below B.  For a plain name every label-boundary suffix is looked up.
    Disabled policies and policies without patterns are dropped at build time.
    Immutable after construction, so one instance may serve many threads.
    """

    def __init__(self, policies: Iterable[Policy]) -> None:
        self._policies: list[Policy] = []
        self._exact: dict[str, set[int]] = defaultdict(set)
        self._exact_by_parent: dict[str, set[int]] = defaultdict(set)
        self._wild: dict[str, set[int]] = defaultdict(set)
        self._wild_by_parent: dict[str, set[int]] = defaultdict(set)
        for policy in policies:
            if not policy.enabled:
                continue
            pos = len(self._policies)
            self._policies.append(policy)
            for raw in policy.domains:
                pattern = _canon(raw)
                if pattern.startswith("*."):
                    base = pattern[2:]
                    if base:
                        self._wild[base].add(pos)
                        self._wild_by_parent[_parent(base)].add(pos)
                elif pattern:
                    self._exact[pattern].add(pos)
                    self._exact_by_parent[_parent(pattern)].add(pos)

    def __len__(self) -> int:
        return len(self._policies)

    def applicable(self, request: CertificateRequest) -> list[Policy]:
        """Same result and order as ``applicable_policies(request, policies)``."""
        hits: set[int] = set()
        for raw in request.all_dns_names():
            name = _canon(raw)
            if name.startswith("*."):
                name = name[2:]
                if not name:
                    continue
                hits |= self._exact_by_parent.get(name, set())
                hits |= self._wild_by_parent.get(name, set())
            else:
                hits |= self._exact.get(name, set())
            suffix = name
            while suffix:
                hits |= self._wild.get(suffix, set())
                suffix = _parent(suffix)
        chosen = [
            pos for pos in hits if request.action in self._policies[pos].actions
        ]
        chosen.sort(key=lambda pos: (self._policies[pos].name, pos))
        return [self._policies[pos] for pos in chosen]


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


def evaluate(request: CertificateRequest, policies: Iterable[Policy]) -> Evaluation:
    """Evaluate ``request`` against the policies that apply to it.

    ``policies`` may be all policies or only the applicable ones: this function
    filters with :func:`applicable_policies` itself so no caller can forget
    (a no-op for ``index.applicable(request)``).  Pure and total; see the
    module docstring for the contract.  Violations come conflicts first, then
    per policy (by name) per rule in document order.
    """
    applicable = applicable_policies(request, policies)
    merger = _Merger(request)
    for p_pos, policy in enumerate(applicable):
        for r_pos, rule in enumerate(policy.rules):
            merger.add(policy, rule, (p_pos, r_pos))
    enforced, conflicts, allowed = merger.merge()
    return Evaluation(
        enforced=FrozenMapping(enforced),
        violations=(*conflicts, *merger.violations),
        allowed=allowed,
        policies=tuple(p.name for p in applicable),
    )


_USAGE_FIELDS = ("key_usage", "extended_key_usage")


def apply_enforced(request: CertificateRequest, evaluation: Evaluation) -> CertificateRequest:
    """Fill every empty field (``None`` / ``""``) with its enforced value and add the
    required usages to ``key_usage`` / ``extended_key_usage`` (request order kept,
    missing ones appended).  Never overwrites a non-empty value: a different value
    is a violation already reported by :func:`evaluate`.  ``algorithm`` is left
    alone when a CSR supplies the key.  Pure; returns the same object if nothing
    changes."""
    changes: dict[str, Any] = {}
    for name, enforced in evaluation.enforced.items():
        current = getattr(request, name, None)
        if name in _USAGE_FIELDS:
            merged = tuple(current) + tuple(u for u in enforced.value if u not in current)
            if merged != current:
                changes[name] = merged
        elif name == "algorithm" and request.csr_key is not None:
            continue
        elif current is None or current == "":
            changes[name] = enforced.value
    return request.replace(**changes) if changes else request


# --------------------------------------------------------------------------
# Rule handlers and merging
# --------------------------------------------------------------------------

_FIELD_LABELS = {
    "organization": "organization",
    "organizational_unit": "organizational unit",
    "country": "country",
    "state": "state or province",
    "locality": "locality",
    "algorithm": "algorithm",
    "digest": "digest",
}
_SHOWN_NAMES = 5


class _BadRule(Exception):
    """A rule whose values the engine cannot read; becomes ``policy.invalid_rule``."""


@dataclass(frozen=True)
class _Claim:
    """One rule's demand on a field, kept until merging decides the winner."""

    value: Any
    policy: Policy
    rule: Rule
    pos: tuple[int, int]  # (policy, rule) position, to report in document order


def _join(items: Iterable[str], quote: bool = False) -> str:
    shown = [f"'{i}'" if quote else str(i) for i in items]
    if len(shown) > _SHOWN_NAMES:
        shown = [*shown[:_SHOWN_NAMES], f"{len(shown) - _SHOWN_NAMES} more"]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _names_of(claims: Iterable[_Claim]) -> list[str]:
    return list(dict.fromkeys(c.policy.name for c in claims))


def _policies_phrase(names: list[str]) -> str:
    return ("Policy " if len(names) == 1 else "Policies ") + _join(names, quote=True)


def _key_text(request: CertificateRequest) -> str:
    key = request.csr_key
    if key is None:
        return f"you chose {request.algorithm}"
    return f"your CSR's key is {key.family.upper()} {key.bits}-bit"


def _value(values: Mapping[str, Any], key: str, kind: type, choices: Iterable[Any] = ()) -> Any:
    value = values.get(key)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    ok = ok and not (kind is str and not value.strip())
    if not ok or (choices and value not in tuple(choices)):
        raise _BadRule(f"'{key}' is missing or invalid ({value!r})")
    return value


class _Merger:
    """Collects claims and direct violations rule by rule, then merges claims."""

    def __init__(self, request: CertificateRequest) -> None:
        self.request = request
        self.found: list[tuple[tuple[int, int], Violation]] = []
        self._pos = (0, 0)
        self.exact: dict[str, list[_Claim]] = defaultdict(list)
        self.families: list[_Claim] = []
        self.key_sizes: list[_Claim] = []  # value: (rsa_min, ec_min)
        self.max_days: list[_Claim] = []
        self.min_days: list[_Claim] = []
        self.usages: dict[str, list[_Claim]] = {"key_usage": [], "extended_key_usage": []}

    @property
    def violations(self) -> list[Violation]:
        """Rule violations in (policy, rule) document order."""
        return [v for _, v in sorted(self.found, key=lambda item: item[0])]

    def _claim(self, value: Any, policy: Policy, rule: Rule) -> _Claim:
        return _Claim(value, policy, rule, self._pos)

    def violate(self, policy: Policy, rule: Rule, field: str | None, message: str,
                expected: str | None = None, actual: str | None = None,
                code: str | None = None, severity: str | None = None,
                pos: tuple[int, int] | None = None) -> None:
        self.found.append((pos or self._pos, Violation(
            code=code or f"policy.{rule.action}", message=message, field=field,
            severity=severity or ("soft" if rule.fail == "soft" else "hard"),
            policy=policy.name, rule=rule.action, expected=expected, actual=actual,
            description=policy.description or None)))

    def add(self, policy: Policy, rule: Rule, pos: tuple[int, int]) -> None:
        self._pos = pos
        handler = getattr(self, "_" + rule.action, None) if rule.action in RULE_ACTIONS else None
        try:
            if handler is None:
                raise _BadRule("unknown rule action")
            handler(policy, rule, rule.values)
        except _BadRule as exc:
            self.violate(policy, rule, None, (
                f"Policy '{policy.name}' has a rule the platform cannot evaluate "
                f"({rule.action}: {exc}); ask a policy administrator to fix it."),
                code="policy.invalid_rule", severity="hard")

    # -- value rules: record claims (checked against the request in merge) --

    def _enforce_values(self, policy: Policy, rule: Rule, values: Mapping[str, Any]) -> None:
        fields = [f for f in SUBJECT_FIELDS if f in values]
        if not fields or set(values) - set(SUBJECT_FIELDS):
            raise _BadRule("values must set some of " + ", ".join(SUBJECT_FIELDS))
        texts = {name: _value(values, name, str) for name in fields}  # all valid, or none
        for name, text in texts.items():
            value = text.upper() if name == "country" else text
            self.exact[name].append(self._claim(value, policy, rule))

    def _enforce_digest(self, policy: Policy, rule: Rule, values: Mapping[str, Any]) -> None:
        digest = _value(values, "digest", str, DIGESTS)
        self.exact["digest"].append(self._claim(digest, policy, rule))

    def _enforce_algorithm(self, policy: Policy, rule: Rule, values: Mapping[str, Any]) -> None:
        alg = _value(values, "algorithm", str, ALGORITHM_FAMILIES + ALGORITHMS)
        if alg in ALGORITHMS:
            self.exact["algorithm"].append(self._claim(alg, policy, rule))
            return
        self.families.append(self._claim(alg, policy, rule))
        family = self.request.key_family()
        if family is not None and family != alg:
            self.violate(policy, rule, "csr" if self.request.csr_key else "algorithm",
                         f"Policy '{policy.name}' requires an {alg.upper()} key "
                         f"({_key_text(self.request)}).", expected=alg, actual=family)

    def _enforce_minimum_key_size(self, policy: Policy, rule: Rule,
                                  values: Mapping[str, Any]) -> None:
        rsa_min = _value(values, "minimum_bits", int)
        ec_min = _value(values, "minimum_ec_bits", int) if "minimum_ec_bits" in values else rsa_min
        self.key_sizes.append(self._claim((rsa_min, ec_min), policy, rule))
        family, bits = self.request.key_family(), self.request.key_bits()
        if family is None or bits is None:
            return
        # Anything that is not EC is held to the RSA minimum; unsupported key
        # types are refused separately by validation (csr.unsupported_key).
        need = ec_min if family == "ecdsa" else rsa_min
        if bits >= need:
            return
        kind = "EC" if family == "ecdsa" else "RSA"
        text = (f"requires {kind} keys of at least {need} bits" if need <= 521 or kind == "RSA"
                else f"does not allow EC keys (it requires at least {need} bits)")
        self.violate(policy, rule, "csr" if self.request.csr_key else "algorithm",
                     f"Policy '{policy.name}' {text} ({_key_text(self.request)}).",
                     expected=f">= {need} bits", actual=f"{bits} bits")

    def _validity(self, policy: Policy, rule: Rule, key: str, claims: list[_Claim]) -> None:
        days = _value(rule.values, key, int)
        claims.append(self._claim(days, policy, rule))
        chosen = self.request.validity_days
        if chosen is None:
            return
        if key == "max_days" and chosen > days:
            text, expected = f"allows at most {days} days", f"<= {days} days"
        elif key == "min_days" and chosen < days:
            text, expected = f"requires at least {days} days", f">= {days} days"
        else:
            return
        self.violate(policy, rule, "validity_days",
                     f"Policy '{policy.name}' {text} of validity (you chose {chosen}).",
                     expected=expected, actual=f"{chosen} days")

    def _enforce_max_validity(self, policy: Policy, rule: Rule, _: Mapping[str, Any]) -> None:
        self._validity(policy, rule, "max_days", self.max_days)

    def _enforce_min_validity(self, policy: Policy, rule: Rule, _: Mapping[str, Any]) -> None:
        self._validity(policy, rule, "min_days", self.min_days)

    def _enforce_key_usage(self, policy: Policy, rule: Rule, values: Mapping[str, Any]) -> None:
        if set(values) - set(self.usages):
            raise _BadRule("values may only hold key_usage and extended_key_usage")
        lists = {"key_usage": KEY_USAGES, "extended_key_usage": EXTENDED_KEY_USAGES}
        for name, known in lists.items():
            usages = values.get(name, ())
            if not isinstance(usages, tuple) or not set(usages) <= set(known):
                raise _BadRule(f"'{name}' must be a list of {', '.join(known)}")
        for name in lists:
            self.usages[name].append(self._claim(values.get(name, ()), policy, rule))
        bad = [u for u in values.get("key_usage", ()) if u in EC_FORBIDDEN_KEY_USAGES]
        if bad and self.request.key_family() == "ecdsa":
            self.violate(policy, rule, "csr" if self.request.csr_key else "algorithm",
                         f"Policy '{policy.name}' requires key usage {_join(bad)}, which an EC "
                         "key cannot have (an EC key cannot encipher); choose an RSA key.",
                         expected="an RSA key", actual="an EC key",
                         code="policy.key_usage_incompatible", severity="hard")

    # -- name rules: judged immediately --------------------------------------

    def _names_violation(self, policy: Policy, rule: Rule, bad: list[str], text: str,
                         expected: str, field: str | None = None) -> None:
        if not bad:
            return
        field = field or ("common_name" if self.request.common_name in bad else "sans")
        self.violate(policy, rule, field,
                     f"Policy '{policy.name}' {text} (you requested {_join(bad)}).",
                     expected=expected, actual=", ".join(bad))

    def _disable_wildcard(self, policy: Policy, rule: Rule, _: Mapping[str, Any]) -> None:
        bad = [n for n in self.request.all_dns_names() if "*" in n]
        self._names_violation(policy, rule, bad, "does not allow wildcard names",
                              "no wildcard names")

    def _block_subdomains(self, policy: Policy, rule: Rule, _: Mapping[str, Any]) -> None:
        bases = list(dict.fromkeys(pattern_base(p) for p in policy.domains))
        bad = [n for n in self.request.all_dns_names() if n not in bases]
        self._names_violation(policy, rule, bad,
                              f"allows only {_join(bases)}, not subdomains", _join(bases))

    def _enforce_domain_suffix(self, policy: Policy, rule: Rule,
                               values: Mapping[str, Any]) -> None:
        suffix = _canon(_value(values, "suffix", str)).lstrip(".")
        if not suffix:
            raise _BadRule("'suffix' is empty")
        bad = [n for n in self.request.all_dns_names() if not _under(n.removeprefix("*."), suffix)]
        self._names_violation(policy, rule, bad, f"requires every name to end in .{suffix}",
                              f"names ending in .{suffix}")

    def _block_ip_in_san(self, policy: Policy, rule: Rule, _: Mapping[str, Any]) -> None:
        self._names_violation(policy, rule, list(self.request.ip_addresses),
                              "does not allow IP addresses in SANs", "no IP addresses", "sans")

    def _block_email_in_san(self, policy: Policy, rule: Rule, _: Mapping[str, Any]) -> None:
        self._names_violation(policy, rule, list(self.request.emails),
                              "does not allow e-mail addresses in SANs", "no e-mail addresses",
                              "sans")

    def _require_san(self, policy: Policy, rule: Rule, _: Mapping[str, Any]) -> None:
        r = self.request
        if not (r.dns_names or r.ip_addresses or r.emails):
            self.violate(policy, rule, "sans",
                         f"Policy '{policy.name}' requires at least one subject alternative "
                         "name (SAN) besides the common name.",
                         expected="at least one SAN", actual="none")

    def _enforce_max_san_count(self, policy: Policy, rule: Rule,
                               values: Mapping[str, Any]) -> None:
        limit = _value(values, "max_count", int)
        # The CN counts: the issued certificate repeats it as a SAN (SPEC 5).
        count = self.request.san_count()
        if count > limit:
            self.violate(policy, rule, "sans",
                         f"Policy '{policy.name}' allows at most {limit} SAN entries (your "
                         f"certificate would carry {count}, counting the common name).",
                         expected=f"<= {limit}", actual=str(count))

    def _block_ca_flag(self, policy: Policy, rule: Rule, _: Mapping[str, Any]) -> None:
        if self.request.requests_ca:
            self.violate(policy, rule, "csr",
                         f"Policy '{policy.name}' does not allow CA certificates (your CSR "
                         "asks for basicConstraints CA:TRUE).",
                         expected="CA:FALSE", actual="CA:TRUE")

    # -- merging ---------------------------------------------------------------

    def merge(self) -> tuple[dict[str, Enforced], list[Violation], Allowed]:
        """Most restrictive value per field; returns (enforced, conflicts, allowed)."""
        enforced: dict[str, Enforced] = {}
        conflicts: list[Violation] = []
        for name in (*SUBJECT_FIELDS, "algorithm", "digest"):
            claims = self.exact.get(name)
            if not claims:
                continue
            distinct = list(dict.fromkeys(c.value for c in claims))
            if len(distinct) > 1:
                conflicts.append(self._conflict(claims, name, (
                    f"{_policies_phrase(_names_of(claims))} enforce different "
                    f"{_FIELD_LABELS[name]} values ({_join(distinct, True)})")))
                continue
            enforced[name] = Enforced(name, distinct[0], ", ".join(_names_of(claims)))
            for claim in claims:
                self._check_exact(name, claim)

        algorithms = self._allowed_algorithms(enforced, conflicts)
        digest = enforced.get("digest")
        digests = (digest.value,) if digest else (() if self.exact.get("digest") else DIGESTS)

        low = max(self.min_days, key=lambda c: c.value, default=None)
        high = min(self.max_days, key=lambda c: c.value, default=None)
        min_days = low.value if low else MIN_VALIDITY_DAYS
        max_days = high.value if high else MAX_VALIDITY_DAYS
        if low and high and low.value > high.value:
            conflicts.append(self._conflict([low, high], "validity_days", (
                f"Policy '{low.policy.name}' requires at least {low.value} days of validity "
                f"but policy '{high.policy.name}' allows at most {high.value} days")))
        elif min_days == max_days and (low or high):
            binding = [c for c in (low, high) if c is not None]
            enforced["validity_days"] = Enforced("validity_days", min_days,
                                                 ", ".join(_names_of(binding)))

        required: dict[str, tuple[str, ...]] = {}
        for name, known in (("key_usage", KEY_USAGES), ("extended_key_usage", EXTENDED_KEY_USAGES)):
            claims = [c for c in self.usages[name] if c.value]
            wanted = {u for c in claims for u in c.value}
            required[name] = tuple(u for u in known if u in wanted)
            if required[name]:
                enforced[name] = Enforced(name, required[name], ", ".join(_names_of(claims)))

        allowed = Allowed(algorithms=algorithms, digests=digests, min_validity=min_days,
                          max_validity=max_days, required_key_usage=required["key_usage"],
                          required_extended_key_usage=required["extended_key_usage"])
        return enforced, conflicts, allowed

    def _allowed_algorithms(self, enforced: dict[str, Enforced],
                            conflicts: list[Violation]) -> tuple[str, ...]:
        """Intersect every algorithm constraint; report a conflict if nothing is left."""
        allowed = list(ALGORITHMS)
        involved: list[_Claim] = []
        demands: list[str] = []

        def restrict(claim: _Claim, keep: Any, text: str) -> None:
            allowed[:] = [a for a in allowed if keep(a)]
            involved.append(claim)
            demands.append(f"'{claim.policy.name}': {text}")

        exact = self.exact.get("algorithm", [])
        exact_ids = {c.value for c in exact}
        for claim in exact:
            restrict(claim, lambda a, want=claim.value: a == want, claim.value)
        for claim in self.families:
            restrict(claim, lambda a, f=claim.value: algorithm_family(a) == f,
                     f"{claim.value.upper()} keys")
        for claim in self.key_sizes:
            rsa_min, ec_min = claim.value
            restrict(claim, lambda a, r=rsa_min, e=ec_min: algorithm_bits(a) >= (
                e if algorithm_family(a) == "ecdsa" else r),
                f"RSA >= {rsa_min} bits, EC >= {ec_min} bits")
        for claim in self.usages["key_usage"]:
            if set(claim.value) & set(EC_FORBIDDEN_KEY_USAGES):
                # An EC key cannot encipher, so requiring it rules EC out.
                restrict(claim, lambda a: algorithm_family(a) == "rsa",
                         "an enciphering key usage (RSA only)")
        if not allowed and len(exact_ids) <= 1:
            # Two exact ids already gave a conflict; do not report the same twice.
            names = _names_of(involved)
            phrase = ("policy " if len(names) == 1 else "policies ") + _join(names, quote=True)
            conflicts.append(self._conflict(involved, "algorithm", (
                f"No key algorithm satisfies {phrase} ({'; '.join(demands)})")))
        if "algorithm" in enforced and enforced["algorithm"].value not in allowed:
            del enforced["algorithm"]
        return tuple(allowed)

    def _check_exact(self, name: str, claim: _Claim) -> None:
        """Report a set request value that differs from the (sole) enforced value."""
        request, want, field = self.request, claim.value, name
        if name == "algorithm":
            key = request.csr_key
            if key is not None:
                field, have = "csr", f"{key.family.upper()} {key.bits}-bit key"
                wrong = (key.family, key.bits) != (algorithm_family(want), algorithm_bits(want))
            else:
                have = request.algorithm
                wrong = bool(have) and have != want
            yours = _key_text(request)
        else:
            have = getattr(request, name)
            wrong = bool(have) and (have.upper() if name == "country" else have) != want
            yours = f"you chose {have}" if name == "digest" else f"you entered '{have}'"
        if wrong:
            shown = want if name in ("algorithm", "digest") else f"'{want}'"
            self.violate(claim.policy, claim.rule, field,
                         f"Policy '{claim.policy.name}' requires {_FIELD_LABELS[name]} {shown} "
                         f"({yours}).", expected=str(want), actual=str(have), pos=claim.pos)

    def _conflict(self, claims: list[_Claim], field: str, text: str) -> Violation:
        names = _names_of(claims)
        rules = ", ".join(dict.fromkeys(c.rule.action for c in claims))
        return Violation(
            code="policy.conflict", field=field, severity="hard", policy=", ".join(names),
            rule=rules, message=f"{text}; ask a policy administrator to resolve the conflict.")
