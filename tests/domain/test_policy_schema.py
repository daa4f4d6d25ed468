"""The policy JSON document: round trip, normalisation and every error collected."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from app.domain.errors import DomainError, PolicyDocumentError
from app.domain.policy import RULE_ACTIONS, Policy, Rule
from app.domain.policy_schema import (
    RULE_VALUES,
    parse_policy,
    parse_policy_file,
    parse_policy_file_json,
    parse_policy_json,
    policy_to_document,
)

FULL: dict[str, Any] = {
    "name": "Prod TLS",
    "description": "Production TLS must use strong crypto.",
    "enabled": True,
    "matching_criteria": {"actions": ["certificate.generate", "certificate.renew"],
                          "domains": ["*.example.com", "api.example.org"]},
    "rules": [
        {"action": "enforce_values", "fail": "hard",
         "values": {"organization": "Acme", "organizational_unit": "Ops", "country": "DE",
                    "state": "Berlin", "locality": "Berlin"}},
        {"action": "enforce_key_usage", "fail": "soft",
         "values": {"key_usage": ["digitalSignature"], "extended_key_usage": ["serverAuth"]}},
        {"action": "enforce_algorithm", "fail": "hard", "values": {"algorithm": "ecdsa"}},
        {"action": "enforce_minimum_key_size", "fail": "hard",
         "values": {"minimum_bits": 3072, "minimum_ec_bits": 384}},
        {"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha384"}},
        {"action": "enforce_max_validity", "fail": "hard", "values": {"max_days": 397}},
        {"action": "enforce_min_validity", "fail": "soft", "values": {"min_days": 7}},
        {"action": "disable_wildcard", "fail": "soft", "values": {}},
        {"action": "block_subdomains", "fail": "soft", "values": {}},
        {"action": "enforce_domain_suffix", "fail": "hard", "values": {"suffix": "example.com"}},
        {"action": "block_ip_in_san", "fail": "hard", "values": {}},
        {"action": "block_email_in_san", "fail": "hard", "values": {}},
        {"action": "require_san", "fail": "soft", "values": {}},
        {"action": "enforce_max_san_count", "fail": "hard", "values": {"max_count": 10}},
        {"action": "block_ca_flag", "fail": "hard", "values": {}},
    ],
}


def errors_of(data: Any) -> list[str]:
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy(data)
    return info.value.errors


def test_full_document_round_trips() -> None:
    policy = parse_policy(FULL)
    assert {r.action for r in policy.rules} == set(RULE_ACTIONS)
    assert policy_to_document(policy) == FULL
    assert parse_policy(policy_to_document(policy)) == policy
    assert parse_policy_json(json.dumps(FULL)) == policy


def test_normalisation_and_defaults() -> None:
    policy = parse_policy({
        "name": "  Small  ",
        "matching_criteria": {"actions": ["certificate.renew", "certificate.renew"],
                              "domains": ["*.Bücher.DE.", "EXAMPLE.com", "example.com"]},
        "rules": [{"action": "enforce_values", "fail": "soft",
                   "values": {"country": "de", "organization": " Acme "}},
                  {"action": "disable_wildcard", "fail": "hard"},
                  {"action": "enforce_domain_suffix", "fail": "hard",
                   "values": {"suffix": ".Example.COM"}}],
        "id": "4f1c",
    })
    assert policy == Policy(
        name="Small", description="", enabled=True, actions=frozenset({"certificate.renew"}),
        domains=("*.xn--bcher-kva.de", "example.com"),
        rules=(Rule("enforce_values", "soft", {"organization": "Acme", "country": "DE"}),
               Rule("disable_wildcard", "hard"),
               Rule("enforce_domain_suffix", "hard", {"suffix": "example.com"})),
        id="4f1c")
    assert policy_to_document(policy)["id"] == "4f1c"
    assert parse_policy(policy_to_document(policy)) == policy


def test_rule_values_table_lists_every_action() -> None:
    assert set(RULE_VALUES) == set(RULE_ACTIONS)
    assert RULE_VALUES["disable_wildcard"] == ()
    assert RULE_VALUES["enforce_max_validity"] == ("max_days",)


def _with(path: str, value: Any) -> dict[str, Any]:
    """FULL with one value replaced (path like "rules.4.values.digest"); None deletes."""
    doc = copy.deepcopy(FULL)
    *parents, last = path.split(".")
    target: Any = doc
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    key_or_index: Any = int(last) if isinstance(target, list) else last
    if value is _DELETE:
        del target[key_or_index]
    else:
        target[key_or_index] = value
    return doc


_DELETE = object()

SINGLE_ERRORS = [
    pytest.param("name", "", "name: must be a non-empty string of at most 100", id="empty-name"),
    pytest.param("name", "x" * 101, "name: must be a non-empty string of at most 100",
                 id="long-name"),
    pytest.param("name", _DELETE, "name: must be a non-empty string", id="missing-name"),
    pytest.param("description", "d" * 1001, "description: must be a string of at most 1000",
                 id="long-description"),
    pytest.param("enabled", "yes", "enabled: must be true or false", id="enabled-type"),
    pytest.param("colour", "red", "colour: unknown key; expected: name", id="unknown-top-key"),
    pytest.param("matching_criteria", _DELETE, "matching_criteria: must be a JSON object",
                 id="missing-criteria"),
    pytest.param("matching_criteria.extra", 1, "matching_criteria.extra: unknown key",
                 id="unknown-criteria-key"),
    pytest.param("matching_criteria.actions", [], "matching_criteria.actions: must be a "
                 "non-empty list", id="empty-actions"),
    pytest.param("matching_criteria.actions.1", "certificate.revoke",
                 "matching_criteria.actions[1]: 'certificate.revoke' is not allowed",
                 id="bad-action"),
    pytest.param("matching_criteria.domains", [], "matching_criteria.domains: must be a "
                 "non-empty list", id="empty-domains"),
    pytest.param("matching_criteria.domains.1", "*.*.example.com",
                 "matching_criteria.domains[1]: '*.*.example.com' is not a valid pattern",
                 id="double-wildcard"),
    pytest.param("matching_criteria.domains.1", "a.*.example.com",
                 "matching_criteria.domains[1]: 'a.*.example.com' is not a valid pattern",
                 id="inner-wildcard"),
    pytest.param("matching_criteria.domains.0", "*.com",
                 "matching_criteria.domains[0]: '*.com' is not a valid pattern", id="too-broad"),
    pytest.param("matching_criteria.domains.0", "192.0.2.1",
                 "matching_criteria.domains[0]: '192.0.2.1' is not a valid pattern", id="ip"),
    pytest.param("matching_criteria.domains.0", 7, "matching_criteria.domains[0]: must be a "
                 "string", id="pattern-type"),
    pytest.param("rules", {}, "rules: must be a list of rules", id="rules-type"),
    pytest.param("rules.2", "enforce_digest", "rules[2]: must be a JSON object",
                 id="rule-type"),
    pytest.param("rules.2.action", "enforce_colour", "rules[2].action: unknown rule action "
                 "'enforce_colour'; expected one of: enforce_values", id="unknown-rule"),
    pytest.param("rules.2.fail", "warn", "rules[2].fail: must be 'hard' or 'soft', not 'warn'",
                 id="bad-fail"),
    pytest.param("rules.2.fail", _DELETE, "rules[2].fail: must be 'hard' or 'soft'",
                 id="missing-fail"),
    pytest.param("rules.2.extra", 1, "rules[2].extra: unknown key; expected: action, fail, "
                 "values", id="unknown-rule-key"),
    pytest.param("rules.4", {"action": "enforce_algorithm", "fail": "soft",
                             "values": {"algorithm": "rsa"}},
                 "rules[4].action: 'enforce_algorithm' "
                 "appears more than once (also rules[2])", id="duplicate-rule"),
    pytest.param("rules.4.values.digest", "md5", "rules[4].values.digest: 'md5' is not "
                 "allowed; expected one of: sha256, sha384, sha512", id="bad-digest"),
    pytest.param("rules.4.values", None, "rules[4].values: must be a JSON object",
                 id="values-null"),
    pytest.param("rules.4.values.colour", "red", "rules[4].values.colour: unknown key; "
                 "expected: digest", id="unknown-value-key"),
    pytest.param("rules.4.values.digest", _DELETE, "rules[4].values.digest: is required",
                 id="missing-value"),
    pytest.param("rules.5.values.max_days", 0, "rules[5].values.max_days: must be an integer "
                 "from 1 to 3650", id="max-days-range"),
    pytest.param("rules.5.values.max_days", "90", "rules[5].values.max_days: must be an "
                 "integer", id="max-days-type"),
    pytest.param("rules.5.values.max_days", True, "rules[5].values.max_days: must be an "
                 "integer", id="max-days-bool"),
    pytest.param("rules.5.values.max_days", 90.0, "rules[5].values.max_days: must be an "
                 "integer", id="max-days-float"),
    pytest.param("rules.6.values.min_days", 3651, "rules[6].values.min_days: must be an "
                 "integer from 1 to 3650", id="min-days-range"),
    pytest.param("rules.3.values.minimum_bits", 99999, "rules[3].values.minimum_bits: must be "
                 "an integer from 1 to 16384", id="min-bits-range"),
    pytest.param("rules.3.values.minimum_ec_bits", 1024, "rules[3].values.minimum_ec_bits: "
                 "must be an integer from 1 to 521", id="min-ec-bits-range"),
    pytest.param("rules.2.values.algorithm", "dsa", "rules[2].values.algorithm: 'dsa' is not "
                 "allowed", id="bad-algorithm"),
    pytest.param("rules.0.values.country", "DEU", "rules[0].values.country: must be a two-"
                 "letter ISO 3166 country code", id="bad-country"),
    pytest.param("rules.0.values.organization", "a" * 65, "rules[0].values.organization: must "
                 "be a non-empty string of at most 64", id="long-org"),
    pytest.param("rules.0.values", {}, "rules[0].values: must set at least one of: "
                 "organization", id="enforce-values-empty"),
    pytest.param("rules.1.values.key_usage", ["signing"], "rules[1].values.key_usage: unknown "
                 "usage 'signing'", id="bad-usage"),
    pytest.param("rules.1.values.extended_key_usage", "serverAuth",
                 "rules[1].values.extended_key_usage: must be a list", id="usage-type"),
    pytest.param("rules.7.values", {"x": 1}, "rules[7].values: 'disable_wildcard' takes no "
                 "values", id="values-on-valueless-rule"),
    pytest.param("rules.9.values.suffix", "bad_suffix.com", "rules[9].values.suffix: "
                 "'bad_suffix.com' is not a valid domain name", id="bad-suffix"),
    pytest.param("rules.13.values.max_count", 101, "rules[13].values.max_count: must be an "
                 "integer from 1 to 100", id="san-count-range"),
]


@pytest.mark.parametrize(("path", "value", "message"), SINGLE_ERRORS)
def test_single_error(path: str, value: Any, message: str) -> None:
    errors = errors_of(_with(path, value))
    assert len(errors) == 1, errors
    assert errors[0].startswith(message), errors[0]


def test_every_error_is_collected() -> None:
    document = {
        "name": "", "enabled": "no", "extra": 1,
        "matching_criteria": {"actions": [], "domains": ["*.*.example.com", "ok.example.com"]},
        "rules": [{"action": "enforce_colour", "fail": "maybe"},
                  {"action": "enforce_max_validity", "fail": "hard",
                   "values": {"max_days": 0, "min_days": 1}}],
    }
    errors = errors_of(document)
    assert [e.split(":")[0] for e in errors] == [
        "extra", "name", "enabled", "matching_criteria.actions", "matching_criteria.domains[0]",
        "rules[0].action", "rules[0].fail", "rules[1].values.min_days",
        "rules[1].values.max_days"]


def test_error_is_a_domain_error_with_summary() -> None:
    with pytest.raises(DomainError) as info:
        parse_policy([])
    assert info.value.code == "policy.invalid_document"
    assert "document: must be a JSON object" in info.value.message


@pytest.mark.parametrize(("text", "error"), [
    pytest.param('{"name": "x",\n  "enabled": }', "line 2, column 14: malformed JSON",
                 id="malformed"),
    pytest.param('{"name": "a", "name": "b"}', "document: duplicate key 'name'", id="dup-key"),
    pytest.param('{"name": NaN}', "document: NaN is not valid JSON", id="nan"),
    pytest.param("", "line 1, column 1: malformed JSON", id="empty"),
])
def test_json_errors(text: str, error: str) -> None:
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy_json(text)
    assert info.value.errors[0].startswith(error), info.value.errors


def _doc(name: str, domain: str = "example.com") -> dict[str, Any]:
    return {"name": name, "matching_criteria": {"actions": ["certificate.generate"],
                                                "domains": [domain]}}


def test_file_forms() -> None:
    docs = [_doc("a"), _doc("b")]
    assert [p.name for p in parse_policy_file(docs)] == ["a", "b"]
    assert parse_policy_file({"policies": docs}) == parse_policy_file(docs)
    assert parse_policy_file_json(json.dumps(docs)) == parse_policy_file(docs)
    assert parse_policy_file([]) == []


@pytest.mark.parametrize(("data", "errors"), [
    pytest.param([_doc("Web"), _doc("api"), _doc("web")],
                 ["[2].name: duplicate policy name 'web' (also [0])"], id="duplicate-names"),
    pytest.param({"policies": [_doc("a"), _doc("", "*.*.x.com"), 5]},
                 ["policies[1].name: must be", "policies[1].matching_criteria.domains[0]: ",
                  "policies[2]: must be a JSON object"], id="errors-across-entries"),
    pytest.param({"policies": [], "extra": 1}, ["document: must be a JSON list"],
                 id="bad-wrapper"),
    pytest.param("nope", ["document: must be a JSON list"], id="not-a-list"),
])
def test_file_errors(data: Any, errors: list[str]) -> None:
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy_file(data)
    assert len(info.value.errors) == len(errors), info.value.errors
    for got, want in zip(info.value.errors, errors, strict=True):
        assert got.startswith(want), got
