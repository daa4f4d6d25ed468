"""The policy JSON document ("View raw", admin API, policy files) and its validation.

A document::

    {"name": "Prod TLS", "description": "...", "enabled": true,
     "matching_criteria": {"actions": ["certificate.generate"], "domains": ["*.example.com"]},
     "rules": [{"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha384"}}]}

Contract: :func:`parse_policy` returns a normalised :class:`Policy` or raises
:class:`PolicyDocumentError` listing *every* problem, each prefixed with its
JSON path.  Unknown keys anywhere are errors (a typo must not silently disable
a rule).  ``name`` and ``matching_criteria`` are required; ``description``
(default ``""``), ``enabled`` (default ``true``), ``rules`` (default ``[]``) and
``id`` are optional.  Each rule needs ``action`` and ``fail``; ``values`` may be
omitted for rules that take none.  An action may appear once per policy.
Normalisation: strings are stripped, patterns and suffixes become lower-case
A-labels, countries upper case, duplicate list entries are dropped.
:func:`policy_to_document` is the inverse for parsed policies:
``parse_policy(policy_to_document(p)) == p``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.domain.choices import ACTIONS
from app.domain.errors import InvalidName, PolicyDocumentError
from app.domain.names import normalize_domain
from app.domain.policy import RULE_ACTIONS, Policy, Rule
from app.domain.policy_values import (
    _AT_LEAST_ONE,
    _OPTIONAL,
    _RULE_CHECKERS,
    RULE_VALUES,
    Checker,
    _Invalid,
    _one_of,
    _text,
)
from app.domain.policy_values import (
    MAX_RSA_BITS as MAX_RSA_BITS,  # re-exported: was defined here
)

__all__ = [
    "RULE_VALUES",
    "parse_policy",
    "parse_policy_file",
    "parse_policy_file_json",
    "parse_policy_json",
    "policy_to_document",
]

NAME_MAX = 100
DESCRIPTION_MAX = 1000
_FAILS = ("hard", "soft")
_TOP_KEYS = ("name", "description", "enabled", "matching_criteria", "rules", "id")
_CRITERIA_KEYS = ("actions", "domains")
_RULE_KEYS = ("action", "fail", "values")


def _at(prefix: str, key: str) -> str:
    if not prefix or not key:
        return prefix or key
    return prefix + key if key.startswith("[") else f"{prefix}.{key}"


class _Parser:
    """Walks one document, collecting every error with its path."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{_at(self.prefix, path) or 'document'}: {message}")

    def object(self, value: Any, path: str, keys: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, "must be a JSON object")
            return None
        for key in value:
            if key not in keys:
                self.error(_at(path, str(key)), f"unknown key; expected: {', '.join(keys)}")
        return value

    def check(self, checker: Checker, value: Any, path: str) -> Any:
        try:
            return checker(value)
        except _Invalid as exc:
            self.error(path, str(exc))
            return None

    def policy(self, data: Any) -> Policy | None:
        doc = self.object(data, "", _TOP_KEYS)
        if doc is None:
            return None
        before = len(self.errors)
        name = self.check(_text(NAME_MAX), doc.get("name"), "name")
        description = doc.get("description", "")
        if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
            self.error("description", f"must be a string of at most {DESCRIPTION_MAX} characters")
        enabled = doc.get("enabled", True)
        if not isinstance(enabled, bool):
            self.error("enabled", "must be true or false")
        policy_id = doc.get("id")
        if policy_id is not None and not isinstance(policy_id, str):
            self.error("id", "must be a string or null")
        actions, domains = self.criteria(doc.get("matching_criteria"))
        rules = self.rules(doc.get("rules", []))
        if len(self.errors) > before:
            return None
        return Policy(name=name, description=description.strip(), enabled=enabled,
                      actions=frozenset(actions), domains=domains, rules=rules, id=policy_id)

    def criteria(self, value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
        criteria = self.object(value, "matching_criteria", _CRITERIA_KEYS)
        if criteria is None:
            return (), ()
        actions = criteria.get("actions")
        if not isinstance(actions, list) or not actions:
            self.error("matching_criteria.actions",
                       f"must be a non-empty list of: {', '.join(ACTIONS)}")
            actions = []
        for i, action in enumerate(actions):
            self.check(_one_of(ACTIONS), action, f"matching_criteria.actions[{i}]")
        patterns = criteria.get("domains")
        if not isinstance(patterns, list) or not patterns:
            self.error("matching_criteria.domains",
                       "must be a non-empty list of patterns like 'example.com' or "
                       "'*.example.com'")
            patterns = []
        domains = [self.pattern(p, f"matching_criteria.domains[{i}]")
                   for i, p in enumerate(patterns)]
        return (tuple(dict.fromkeys(a for a in actions if a in ACTIONS)),
                tuple(dict.fromkeys(d for d in domains if d)))

    def pattern(self, value: Any, path: str) -> str | None:
        if not isinstance(value, str):
            self.error(path, "must be a string like 'example.com' or '*.example.com'")
            return None
        text = value.strip()
        wildcard = text.startswith("*.")
        base = text[2:] if wildcard else text
        try:
            if "*" in base:
                reason = "a wildcard is allowed only once, as a leading '*.'"
            else:
                base, reason = normalize_domain(base), ""
        except InvalidName as exc:
            reason = exc.message.rstrip(".")
        if reason:
            self.error(path, f"'{value[:100]}' is not a valid pattern ({reason}); "
                             "use 'example.com' or '*.example.com'")
            return None
        return "*." + base if wildcard else base

    def rules(self, value: Any) -> tuple[Rule, ...]:
        if not isinstance(value, list):
            self.error("rules", "must be a list of rules")
            return ()
        rules: list[Rule] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(value):
            path = f"rules[{i}]"
            raw = self.object(item, path, _RULE_KEYS)
            if raw is None:
                continue
            action, fail = raw.get("action"), raw.get("fail")
            if action not in RULE_ACTIONS:
                self.error(f"{path}.action", f"unknown rule action {action!r}; expected one "
                                             f"of: {', '.join(RULE_ACTIONS)}")
            elif action in seen:
                self.error(f"{path}.action", f"{action!r} appears more than once (also "
                                             f"rules[{seen[action]}]); merge them into one rule")
            if fail not in _FAILS:
                self.error(f"{path}.fail", f"must be 'hard' or 'soft', not {fail!r}")
            if action not in RULE_ACTIONS:
                continue
            seen.setdefault(action, i)
            values = self.values(action, raw.get("values", {}), f"{path}.values")
            if values is not None and fail in _FAILS:
                rules.append(Rule(action=action, fail=fail, values=values))
        return tuple(rules)

    def values(self, action: str, value: Any, path: str) -> dict[str, Any] | None:
        checkers = _RULE_CHECKERS.get(action, {})
        if checkers:
            raw = self.object(value, path, tuple(checkers))
        elif value != {}:
            self.error(path, f"'{action}' takes no values; omit 'values' or use {{}}")
            return None
        else:
            return {}
        if raw is None:
            return None
        before = len(self.errors)
        result: dict[str, Any] = {}
        for key, checker in checkers.items():
            if key in raw:
                result[key] = self.check(checker, raw[key], _at(path, key))
            elif action not in _AT_LEAST_ONE and (action, key) not in _OPTIONAL:
                self.error(_at(path, key), "is required")
        if len(self.errors) == before and action in _AT_LEAST_ONE and not any(result.values()):
            self.error(path, f"must set at least one of: {', '.join(checkers)}")
        return result if len(self.errors) == before else None


def parse_policy(data: Any) -> Policy:
    """Validate and normalise one policy document (already decoded from JSON).

    Raises:
        PolicyDocumentError: with every problem found, each "<json path>: <problem>".
    """
    parser = _Parser()
    policy = parser.policy(data)
    if policy is None or parser.errors:
        raise PolicyDocumentError(parser.errors)
    return policy


def _load_json(text: str) -> Any:
    """``json.loads`` that reports position, refuses NaN/Infinity and duplicate keys."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                duplicates.append(key)
            result[key] = value
        return result

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    if not isinstance(text, str):
        raise PolicyDocumentError(["document: expected JSON text"])
    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise PolicyDocumentError(
            [f"line {exc.lineno}, column {exc.colno}: malformed JSON ({exc.msg})"]) from None
    except ValueError as exc:
        raise PolicyDocumentError([f"document: {exc}"]) from None
    if duplicates:
        # The last value would silently win; in a security policy that hides intent.
        raise PolicyDocumentError(
            [f"document: duplicate key {key!r} in one JSON object" for key in duplicates])
    return data


def parse_policy_json(text: str) -> Policy:
    """:func:`parse_policy` on JSON text; malformed JSON is reported with line and column."""
    return parse_policy(_load_json(text))


def parse_policy_file(data: Any) -> list[Policy]:
    """Parse a file of policies: a JSON list of documents or ``{"policies": [...]}``.

    Errors from every entry are collected, prefixed ``[i]`` (or ``policies[i]``);
    two entries with the same name (case-insensitive) are an error.  All or
    nothing: raises :class:`PolicyDocumentError` if anything is wrong.
    """
    prefix = ""
    if isinstance(data, dict) and set(data) == {"policies"}:
        data, prefix = data["policies"], "policies"
    if not isinstance(data, list):
        raise PolicyDocumentError(
            ['document: must be a JSON list of policies or an object {"policies": [...]}'])
    errors: list[str] = []
    policies: list[Policy] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(data):
        parser = _Parser(f"{prefix}[{i}]")
        policy = parser.policy(entry)
        errors += parser.errors
        if policy is None:
            continue
        key = policy.name.casefold()
        if key in first:
            errors.append(f"{prefix}[{i}].name: duplicate policy name '{policy.name}' (also "
                          f"{prefix}[{first[key]}])")
        first.setdefault(key, i)
        policies.append(policy)
    if errors:
        raise PolicyDocumentError(errors)
    return policies


def parse_policy_file_json(text: str) -> list[Policy]:
    """:func:`parse_policy_file` on JSON text."""
    return parse_policy_file(_load_json(text))


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(v) for v in value]
    return value


def policy_to_document(policy: Policy) -> dict[str, Any]:
    """The JSON-safe document of ``policy`` (actions in :data:`ACTIONS` order).

    ``id`` is included only when set.  For policies produced by
    :func:`parse_policy`, ``parse_policy(policy_to_document(p)) == p``.
    """
    document: dict[str, Any] = {
        "name": policy.name,
        "description": policy.description,
        "enabled": policy.enabled,
        "matching_criteria": {
            "actions": [a for a in ACTIONS if a in policy.actions]
            + sorted(a for a in policy.actions if a not in ACTIONS),
            "domains": list(policy.domains),
        },
        "rules": [
            {"action": r.action, "fail": r.fail, "values": _thaw(r.values)} for r in policy.rules
        ],
    }
    if policy.id is not None:
        document["id"] = policy.id
    return document
