"""Merging of the policy engine's claims: most-restrictive value per field wins.

:class:`_Merger` extends the per-rule handlers of :mod:`app.domain.policy_rules`
with the merge: exact values that disagree give one hard ``policy.conflict``
naming every policy involved; limits are intersected.  Private to the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.domain.choices import (
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
from app.domain.policy_rules import _Claim, _join, _key_text, _RuleHandlers
from app.domain.policy_types import SUBJECT_FIELDS, Allowed, Enforced, Violation

_FIELD_LABELS = {
    "organization": "organization",
    "organizational_unit": "organizational unit",
    "country": "country",
    "state": "state or province",
    "locality": "locality",
    "algorithm": "algorithm",
    "digest": "digest",
}


def _names_of(claims: Iterable[_Claim]) -> list[str]:
    return list(dict.fromkeys(c.policy.name for c in claims))


def _policies_phrase(names: list[str]) -> str:
    return ("Policy " if len(names) == 1 else "Policies ") + _join(names, quote=True)


def _size_reason(rsa_min: int, ec_min: int) -> str:
    """Why a minimum key size removes choices, in words (EC curves stop at 521 bits)."""
    largest_ec = max(algorithm_bits(a) for a in ALGORITHMS if algorithm_family(a) == "ecdsa")
    if ec_min > largest_ec:
        return (f"requires keys of at least {rsa_min} bits, which no EC curve offers"
                if rsa_min == ec_min else
                f"requires RSA keys of at least {rsa_min} bits and EC keys of at least "
                f"{ec_min} bits, which no EC curve offers")
    if rsa_min == ec_min:
        return f"requires keys of at least {rsa_min} bits"
    return f"requires RSA keys of at least {rsa_min} bits and EC keys of at least {ec_min} bits"


class _Merger(_RuleHandlers):
    """Collects claims and direct violations rule by rule, then merges claims."""

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

        allowed = Allowed(algorithm_limits=tuple(self.algorithm_limits),
                          algorithms=algorithms, digests=digests, min_validity=min_days,
                          max_validity=max_days, required_key_usage=required["key_usage"],
                          required_extended_key_usage=required["extended_key_usage"])
        return enforced, conflicts, allowed

    def _allowed_algorithms(self, enforced: dict[str, Enforced],
                            conflicts: list[Violation]) -> tuple[str, ...]:
        """Intersect every algorithm constraint; report a conflict if nothing is left."""
        allowed = list(ALGORITHMS)
        involved: list[_Claim] = []
        demands: list[str] = []
        self.algorithm_limits: list[tuple[str, str]] = []

        def restrict(claim: _Claim, keep: Any, text: str, reason: str | None = None) -> None:
            kept = [a for a in allowed if keep(a)]
            if reason and len(kept) < len(allowed):
                self.algorithm_limits.append((claim.policy.name, reason))
            allowed[:] = kept
            involved.append(claim)
            demands.append(f"'{claim.policy.name}': {text}")

        exact = self.exact.get("algorithm", [])
        exact_ids = {c.value for c in exact}
        for claim in exact:
            restrict(claim, lambda a, want=claim.value: a == want, claim.value)
        for claim in self.families:
            restrict(claim, lambda a, f=claim.value: algorithm_family(a) == f,
                     f"{claim.value.upper()} keys",
                     f"allows only {'ECDSA' if claim.value == 'ecdsa' else 'RSA'} keys")
        for claim in self.key_sizes:
            rsa_min, ec_min = claim.value
            restrict(claim, lambda a, r=rsa_min, e=ec_min: algorithm_bits(a) >= (
                e if algorithm_family(a) == "ecdsa" else r),
                f"RSA >= {rsa_min} bits, EC >= {ec_min} bits", _size_reason(rsa_min, ec_min))
        for claim in self.usages["key_usage"]:
            enciphering = [u for u in claim.value if u in EC_FORBIDDEN_KEY_USAGES]
            if enciphering:
                # An EC key cannot encipher, so requiring it rules EC out.
                restrict(claim, lambda a: algorithm_family(a) == "rsa",
                         "an enciphering key usage (RSA only)",
                         f"requires key usage {_join(enciphering)}, which EC keys cannot have")
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
