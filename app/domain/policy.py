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
from collections.abc import Iterable
from typing import Any

from app.domain.policy_merge import _Merger
from app.domain.policy_patterns import _canon, _parent, pattern_base, pattern_matches
from app.domain.policy_types import (
    RULE_ACTIONS,
    SUBJECT_FIELDS,
    Allowed,
    Enforced,
    Evaluation,
    FrozenMapping,
    Policy,
    Rule,
    Violation,
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


# The types, pattern matching, rule handlers and merging live in policy_types,
# policy_patterns, policy_rules and policy_merge; this module is the public face.


# --------------------------------------------------------------------------
# Applicable policies
# --------------------------------------------------------------------------


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
