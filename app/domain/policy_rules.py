"""Per-rule handlers of the policy engine: each rule judged on its own.

A handler either records a *claim* (a value the rule demands, merged across
policies by :mod:`app.domain.policy_merge`) or reports a violation at once.
A rule whose ``values`` cannot be read raises :class:`_BadRule`, which becomes
a hard ``policy.invalid_rule`` violation.  Private to the policy engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.choices import (
    ALGORITHM_FAMILIES,
    ALGORITHMS,
    DIGESTS,
    EC_FORBIDDEN_KEY_USAGES,
    EXTENDED_KEY_USAGES,
    KEY_USAGES,
)
from app.domain.policy_patterns import _canon, _under, pattern_base
from app.domain.policy_types import RULE_ACTIONS, SUBJECT_FIELDS, Policy, Rule, Violation
from app.domain.request import CertificateRequest

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


class _RuleHandlers:
    """Collects claims and direct violations rule by rule; :class:`_Merger` merges them."""

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
