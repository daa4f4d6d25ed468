"""Table tests for the policy engine: rules, merging, patterns, apply_enforced."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.choices import ACTIONS, ALGORITHMS
from app.domain.policy import (
    Evaluation,
    Policy,
    Rule,
    Violation,
    applicable_policies,
    apply_enforced,
    evaluate,
    pattern_matches,
)
from app.domain.request import CertificateRequest, PublicKeyFacts


def pol(name: str, *rules: Rule, domains: tuple[str, ...] = ("*.example.com",),
        actions: tuple[str, ...] = ACTIONS, enabled: bool = True) -> Policy:
    return Policy(name=name, description=f"Why {name} exists.", enabled=enabled,
                  actions=frozenset(actions), domains=domains, rules=rules)


def rule(action: str, fail: str = "hard", **values: Any) -> Rule:
    return Rule(action=action, fail=fail, values=values)


def req(cn: str = "www.example.com", **fields: Any) -> CertificateRequest:
    return CertificateRequest(common_name=cn, **fields)


def only(evaluation: Evaluation) -> Violation:
    assert len(evaluation.violations) == 1, evaluation.violations
    return evaluation.violations[0]


RSA_CSR = PublicKeyFacts("rsa", 2048)
EC_CSR = PublicKeyFacts("ecdsa", 256, "secp256r1")

# ---------------------------------------------------------------------------
# One row per rule: (rule action, values, request, code, field, words in message)
# ---------------------------------------------------------------------------

VIOLATING = [
    pytest.param("enforce_values", {"organization": "Acme"}, req(organization="Globex"),
                 "policy.enforce_values", "organization", ["Acme", "Globex"], id="org-differs"),
    pytest.param("enforce_values", {"country": "DE"}, req(country="FR"),
                 "policy.enforce_values", "country", ["DE", "FR"], id="country-differs"),
    pytest.param("enforce_values", {"locality": "Berlin"}, req(locality="Bonn"),
                 "policy.enforce_values", "locality", ["Berlin", "Bonn"], id="locality-differs"),
    pytest.param("enforce_algorithm", {"algorithm": "ec-384"}, req(algorithm="rsa-2048"),
                 "policy.enforce_algorithm", "algorithm", ["ec-384", "rsa-2048"],
                 id="algorithm-exact"),
    pytest.param("enforce_algorithm", {"algorithm": "ec-384"}, req(csr_key=EC_CSR),
                 "policy.enforce_algorithm", "csr", ["ec-384", "ECDSA 256-bit"],
                 id="algorithm-exact-csr-size"),
    pytest.param("enforce_algorithm", {"algorithm": "ecdsa"}, req(algorithm="rsa-3072"),
                 "policy.enforce_algorithm", "algorithm", ["ECDSA", "rsa-3072"],
                 id="algorithm-family"),
    pytest.param("enforce_algorithm", {"algorithm": "rsa"}, req(csr_key=EC_CSR),
                 "policy.enforce_algorithm", "csr", ["RSA", "ECDSA 256-bit"],
                 id="algorithm-family-csr"),
    pytest.param("enforce_minimum_key_size", {"minimum_bits": 3072}, req(algorithm="rsa-2048"),
                 "policy.enforce_minimum_key_size", "algorithm", ["3072", "rsa-2048"],
                 id="min-bits-rsa"),
    pytest.param("enforce_minimum_key_size", {"minimum_bits": 3072, "minimum_ec_bits": 384},
                 req(algorithm="ec-256"), "policy.enforce_minimum_key_size", "algorithm",
                 ["384", "ec-256"], id="min-bits-ec"),
    pytest.param("enforce_minimum_key_size", {"minimum_bits": 2048}, req(algorithm="ec-521"),
                 "policy.enforce_minimum_key_size", "algorithm",
                 ["does not allow EC keys", "2048", "ec-521"], id="min-bits-excludes-ec"),
    pytest.param("enforce_minimum_key_size", {"minimum_bits": 4096}, req(csr_key=RSA_CSR),
                 "policy.enforce_minimum_key_size", "csr", ["4096", "RSA 2048-bit"],
                 id="min-bits-csr"),
    pytest.param("enforce_digest", {"digest": "sha384"}, req(digest="sha256"),
                 "policy.enforce_digest", "digest", ["requires digest sha384 (you chose sha256)"],
                 id="digest"),
    pytest.param("enforce_max_validity", {"max_days": 90}, req(validity_days=365),
                 "policy.enforce_max_validity", "validity_days", ["at most 90", "365"],
                 id="max-validity"),
    pytest.param("enforce_min_validity", {"min_days": 30}, req(validity_days=7),
                 "policy.enforce_min_validity", "validity_days", ["at least 30", "7"],
                 id="min-validity"),
    pytest.param("disable_wildcard", {}, req("*.example.com"), "policy.disable_wildcard",
                 "common_name", ["wildcard", "*.example.com"], id="wildcard-cn"),
    pytest.param("disable_wildcard", {}, req(dns_names=("*.api.example.com",)),
                 "policy.disable_wildcard", "sans", ["*.api.example.com"], id="wildcard-san"),
    pytest.param("block_subdomains", {}, req("example.com", dns_names=("a.example.com",)),
                 "policy.block_subdomains", "sans", ["only example.com", "a.example.com"],
                 id="subdomain"),
    pytest.param("enforce_domain_suffix", {"suffix": "prod.example.com"},
                 req("www.example.com", dns_names=("a.prod.example.com",)),
                 "policy.enforce_domain_suffix", "common_name",
                 [".prod.example.com", "www.example.com"], id="suffix"),
    pytest.param("block_ip_in_san", {}, req(ip_addresses=("192.0.2.7",)),
                 "policy.block_ip_in_san", "sans", ["IP", "192.0.2.7"], id="ip-san"),
    pytest.param("block_email_in_san", {}, req(emails=("ops@example.com",)),
                 "policy.block_email_in_san", "sans", ["e-mail", "ops@example.com"],
                 id="email-san"),
    pytest.param("require_san", {}, req(), "policy.require_san", "sans",
                 ["at least one subject alternative name"], id="require-san"),
    pytest.param("enforce_max_san_count", {"max_count": 2},
                 req(dns_names=("a.example.com", "b.example.com")),
                 "policy.enforce_max_san_count", "sans", ["at most 2", "3"], id="san-count"),
    pytest.param("block_ca_flag", {}, req(csr_key=RSA_CSR, requests_ca=True),
                 "policy.block_ca_flag", "csr", ["CA:TRUE"], id="ca-flag"),
]


@pytest.mark.parametrize("fail", ["hard", "soft"])
@pytest.mark.parametrize(("action", "values", "request_", "code", "field", "words"), VIOLATING)
def test_rule_violation(fail: str, action: str, values: dict[str, Any],
                        request_: CertificateRequest, code: str, field: str,
                        words: list[str]) -> None:
    evaluation = evaluate(request_, [pol("Prod TLS", rule(action, fail, **values))])
    v = only(evaluation)
    assert (v.code, v.field, v.severity) == (code, field, fail)
    assert (v.policy, v.rule, v.description) == ("Prod TLS", action, "Why Prod TLS exists.")
    assert "Prod TLS" in v.message
    for word in words:
        assert word in v.message, v.message
    assert evaluation.blocked is (fail == "hard")
    assert (evaluation.hard, evaluation.soft) == (((v,), ()) if fail == "hard" else ((), (v,)))


CONFORMING = [
    pytest.param("enforce_values", {"organization": "Acme"}, req(organization="Acme"), id="org"),
    pytest.param("enforce_values", {"country": "DE"}, req(country="de"), id="country-case"),
    pytest.param("enforce_algorithm", {"algorithm": "ec-384"}, req(algorithm="ec-384"),
                 id="algorithm-exact"),
    pytest.param("enforce_algorithm", {"algorithm": "ec-384"},
                 req(csr_key=PublicKeyFacts("ecdsa", 384, "secp384r1")), id="algorithm-csr"),
    pytest.param("enforce_algorithm", {"algorithm": "rsa"}, req(algorithm="rsa-4096"),
                 id="algorithm-family"),
    pytest.param("enforce_minimum_key_size", {"minimum_bits": 3072, "minimum_ec_bits": 384},
                 req(algorithm="ec-384"), id="min-bits-ec"),
    pytest.param("enforce_minimum_key_size", {"minimum_bits": 256}, req(algorithm="ec-256"),
                 id="min-bits-shared"),
    pytest.param("enforce_digest", {"digest": "sha384"}, req(digest="sha384"), id="digest"),
    pytest.param("enforce_max_validity", {"max_days": 90}, req(validity_days=90), id="max-days"),
    pytest.param("enforce_min_validity", {"min_days": 30}, req(validity_days=30), id="min-days"),
    pytest.param("disable_wildcard", {}, req(dns_names=("a.example.com",)), id="no-wildcard"),
    pytest.param("block_subdomains", {}, req("example.com"), id="apex-only"),
    pytest.param("enforce_domain_suffix", {"suffix": "example.com"},
                 req("*.example.com", dns_names=("example.com",)), id="suffix-wildcard-apex"),
    pytest.param("block_ip_in_san", {}, req(emails=("a@example.com",)), id="no-ip"),
    pytest.param("block_email_in_san", {}, req(ip_addresses=("192.0.2.1",)), id="no-email"),
    pytest.param("require_san", {}, req(ip_addresses=("192.0.2.1",)), id="san-present"),
    pytest.param("enforce_max_san_count", {"max_count": 2}, req(dns_names=("a.example.com",)),
                 id="san-count-at-limit"),
    pytest.param("block_ca_flag", {}, req(csr_key=RSA_CSR), id="not-ca"),
    pytest.param("enforce_key_usage", {"key_usage": ["keyEncipherment"]},
                 req(algorithm="rsa-2048", key_usage=("digitalSignature",)),
                 id="usage-missing-is-filled-not-violated"),
]


@pytest.mark.parametrize(("action", "values", "request_"), CONFORMING)
def test_conforming_request_has_no_violation(action: str, values: dict[str, Any],
                                             request_: CertificateRequest) -> None:
    assert evaluate(request_, [pol("P", rule(action, **values))]).violations == ()


EVERY_VALUE_RULE = pol(
    "Everything",
    rule("enforce_values", organization="Acme", country="DE", state="Berlin"),
    rule("enforce_key_usage", key_usage=["keyEncipherment"], extended_key_usage=["clientAuth"]),
    rule("enforce_algorithm", algorithm="rsa-4096"),
    rule("enforce_minimum_key_size", minimum_bits=4096),
    rule("enforce_digest", digest="sha512"),
    rule("enforce_max_validity", max_days=30),
    rule("enforce_min_validity", min_days=10),
    rule("block_ca_flag"),
)


def test_empty_fields_never_violate() -> None:
    evaluation = evaluate(req(), [EVERY_VALUE_RULE])  # wizard step 0: only names
    assert evaluation.violations == ()
    assert evaluation.policies == ("Everything",)
    assert {k: e.value for k, e in evaluation.enforced.items()} == {
        "organization": "Acme", "country": "DE", "state": "Berlin", "algorithm": "rsa-4096",
        "digest": "sha512", "key_usage": ("keyEncipherment",),
        "extended_key_usage": ("clientAuth",)}
    assert evaluation.allowed.algorithms == ("rsa-4096",)
    assert (evaluation.allowed.min_validity, evaluation.allowed.max_validity) == (10, 30)


def test_key_usage_on_ec_key_is_a_hard_violation_even_for_soft_rules() -> None:
    policy = pol("Legacy", rule("enforce_key_usage", "soft", key_usage=["keyEncipherment"]))
    v = only(evaluate(req(algorithm="ec-256"), [policy]))
    assert (v.code, v.severity, v.policy, v.field) == (
        "policy.key_usage_incompatible", "hard", "Legacy", "algorithm")
    assert "keyEncipherment" in v.message and "cannot encipher" in v.message
    # and the crypto step is not offered EC at all
    assert evaluate(req(), [policy]).allowed.algorithms == ("rsa-2048", "rsa-3072", "rsa-4096")


def test_unreadable_rule_blocks() -> None:
    policy = pol("Broken", rule("enforce_colour", "soft"), rule("enforce_digest", "soft",
                                                                 digest="md5"))
    codes = [(v.code, v.severity) for v in evaluate(req(), [policy]).violations]
    assert codes == [("policy.invalid_rule", "hard")] * 2


# ---------------------------------------------------------------------------
# Merging across policies
# ---------------------------------------------------------------------------


def _summary(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "enforced": {k: (e.value, e.policy) for k, e in evaluation.enforced.items()},
        "codes": [(v.code, v.policy) for v in evaluation.violations],
        "algorithms": evaluation.allowed.algorithms,
        "validity": (evaluation.allowed.min_validity, evaluation.allowed.max_validity),
    }


MERGES = [
    pytest.param(
        [pol("A", rule("enforce_minimum_key_size", minimum_bits=2048, minimum_ec_bits=256)),
         pol("B", rule("enforce_minimum_key_size", minimum_bits=3072, minimum_ec_bits=384))],
        req(algorithm="rsa-2048"),
        {"enforced": {}, "codes": [("policy.enforce_minimum_key_size", "B")],
         "algorithms": ("rsa-3072", "rsa-4096", "ec-384", "ec-521"), "validity": (1, 3650)},
        id="largest-minimum-bits"),
    pytest.param(
        [pol("A", rule("enforce_max_validity", max_days=365)),
         pol("B", rule("enforce_max_validity", max_days=90)),
         pol("C", rule("enforce_min_validity", min_days=30)),
         pol("D", rule("enforce_min_validity", min_days=60))],
        req(validity_days=100),
        {"enforced": {}, "codes": [("policy.enforce_max_validity", "B")],
         "algorithms": ALGORITHMS, "validity": (60, 90)},
        id="smallest-max-largest-min"),
    pytest.param(
        [pol("A", rule("enforce_min_validity", min_days=90)),
         pol("B", rule("enforce_max_validity", max_days=90))],
        req(),
        {"enforced": {"validity_days": (90, "A, B")}, "codes": [], "algorithms": ALGORITHMS,
         "validity": (90, 90)},
        id="min-equals-max-locks"),
    pytest.param(
        [pol("A", rule("enforce_min_validity", min_days=400)),
         pol("B", rule("enforce_max_validity", max_days=365))],
        req(),
        {"enforced": {}, "codes": [("policy.conflict", "A, B")], "algorithms": ALGORITHMS,
         "validity": (400, 365)},
        id="min-above-max-conflict"),
    pytest.param(
        [pol("A", rule("enforce_key_usage", key_usage=["digitalSignature"],
                       extended_key_usage=["serverAuth"])),
         pol("B", rule("enforce_key_usage", key_usage=["nonRepudiation", "digitalSignature"],
                       extended_key_usage=["clientAuth"]))],
        req(),
        {"enforced": {"key_usage": (("digitalSignature", "nonRepudiation"), "A, B"),
                      "extended_key_usage": (("serverAuth", "clientAuth"), "A, B")},
         "codes": [], "algorithms": ALGORITHMS, "validity": (1, 3650)},
        id="usage-union"),
    pytest.param(
        [pol("A", rule("enforce_algorithm", algorithm="rsa")),
         pol("B", rule("enforce_minimum_key_size", minimum_bits=3072))],
        req(),
        {"enforced": {}, "codes": [], "algorithms": ("rsa-3072", "rsa-4096"),
         "validity": (1, 3650)},
        id="family-and-size-intersect"),
    pytest.param(
        [pol("A", rule("enforce_algorithm", algorithm="rsa")),
         pol("B", rule("enforce_algorithm", algorithm="ecdsa"))],
        req(),
        {"enforced": {}, "codes": [("policy.conflict", "A, B")], "algorithms": (),
         "validity": (1, 3650)},
        id="disjoint-families-conflict"),
    pytest.param(
        [pol("A", rule("enforce_algorithm", algorithm="rsa")),
         pol("B", rule("enforce_algorithm", algorithm="rsa-4096"))],
        req(),
        {"enforced": {"algorithm": ("rsa-4096", "B")}, "codes": [], "algorithms": ("rsa-4096",),
         "validity": (1, 3650)},
        id="family-and-exact"),
    pytest.param(
        [pol("A", rule("enforce_algorithm", algorithm="ec-256")),
         pol("B", rule("enforce_minimum_key_size", minimum_bits=2048, minimum_ec_bits=384))],
        req(algorithm="ec-256"),
        {"enforced": {}, "codes": [("policy.conflict", "A, B"),
                                   ("policy.enforce_minimum_key_size", "B")],
         "algorithms": (), "validity": (1, 3650)},
        id="exact-below-minimum-conflict"),
    pytest.param(
        [pol("A", rule("enforce_algorithm", algorithm="ec-256")),
         pol("B", rule("enforce_algorithm", algorithm="ec-384"))],
        req(algorithm="ec-256"),
        {"enforced": {}, "codes": [("policy.conflict", "A, B")], "algorithms": (),
         "validity": (1, 3650)},
        id="two-exact-algorithms-one-conflict"),
    pytest.param(
        [pol("A", rule("enforce_values", organization="Acme")),
         pol("B", rule("enforce_values", organization="Acme", country="DE"))],
        req(organization="Globex"),
        {"enforced": {"organization": ("Acme", "A, B"), "country": ("DE", "B")},
         "codes": [("policy.enforce_values", "A"), ("policy.enforce_values", "B")],
         "algorithms": ALGORITHMS, "validity": (1, 3650)},
        id="same-value-two-policies"),
]


@pytest.mark.parametrize(("policies", "request_", "expected"), MERGES)
def test_merge(policies: list[Policy], request_: CertificateRequest,
               expected: dict[str, Any]) -> None:
    assert _summary(evaluate(request_, policies)) == expected


@pytest.mark.parametrize(("field", "values_a", "values_b", "action", "shown"), [
    pytest.param("organization", {"organization": "Acme"}, {"organization": "Globex"},
                 "enforce_values", ["'Acme'", "'Globex'"], id="organization"),
    pytest.param("country", {"country": "DE"}, {"country": "FR"}, "enforce_values",
                 ["'DE'", "'FR'"], id="country"),
    pytest.param("digest", {"digest": "sha256"}, {"digest": "sha512"}, "enforce_digest",
                 ["'sha256'", "'sha512'"], id="digest"),
    pytest.param("algorithm", {"algorithm": "rsa-2048"}, {"algorithm": "ec-384"},
                 "enforce_algorithm", ["'rsa-2048'", "'ec-384'"], id="algorithm"),
])
def test_exact_value_conflict_names_both_policies_and_values(
        field: str, values_a: dict[str, str], values_b: dict[str, str], action: str,
        shown: list[str]) -> None:
    policies = [pol("Team A", rule(action, "soft", **values_a)),
                pol("Team B", rule(action, "soft", **values_b))]
    # The request even matches one side: the conflict is still the only report.
    evaluation = evaluate(req(**{field: next(iter(values_a.values()))}), policies)
    v = only(evaluation)
    assert (v.code, v.severity, v.field, v.policy) == ("policy.conflict", "hard", field,
                                                       "Team A, Team B")
    for text in ["'Team A'", "'Team B'", *shown]:
        assert text in v.message, v.message
    assert field not in evaluation.enforced


def test_conflicts_come_first_then_document_order() -> None:
    policies = [pol("B", rule("enforce_digest", digest="sha512"),
                    rule("disable_wildcard", "soft")),
                pol("A", rule("enforce_values", organization="X"), rule("require_san")),
                pol("C", rule("enforce_values", organization="Y"))]
    evaluation = evaluate(req("*.example.com", digest="sha256"), policies)
    assert [(v.code, v.policy) for v in evaluation.violations] == [
        ("policy.conflict", "A, C"), ("policy.require_san", "A"),
        ("policy.enforce_digest", "B"), ("policy.disable_wildcard", "B")]


# ---------------------------------------------------------------------------
# Patterns and applicability
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "name", "matches"), [
    pytest.param("example.com", "example.com", True, id="exact"),
    pytest.param("example.com", "www.example.com", False, id="exact-not-subdomain"),
    pytest.param("*.example.com", "example.com", True, id="star-apex"),
    pytest.param("*.example.com", "a.b.c.example.com", True, id="star-deep"),
    pytest.param("*.example.com", "badexample.com", False, id="sibling-string"),
    pytest.param("*.example.com", "example.com.evil.org", False, id="suffix-elsewhere"),
    pytest.param("*.prod.example.com", "example.com", False, id="star-parent"),
    pytest.param("*.prod.example.com", "prod.example.com", True, id="star-one-down-apex"),
    pytest.param("*.Example.COM.", "WWW.example.com", True, id="case-and-dot"),
    pytest.param("*.xn--bcher-kva.de", "www.xn--bcher-kva.de", True, id="idn-a-label"),
    pytest.param("*.example.com", "*.example.com", True, id="wild-same"),
    pytest.param("*.example.com", "*.x.example.com", True, id="wild-under-base"),
    pytest.param("example.com", "*.example.com", False, id="wild-not-apex"),
    pytest.param("www.example.com", "*.example.com", True, id="wild-covers-exact"),
    pytest.param("a.b.example.com", "*.example.com", False, id="wild-one-level-only"),
    pytest.param("*.prod.example.com", "*.example.com", True, id="wild-covers-star-apex"),
    pytest.param("*.a.b.example.com", "*.example.com", False, id="wild-too-far"),
    pytest.param("*.example.com", "*.example.org", False, id="wild-other"),
    pytest.param("*.example.com", "192.0.2.1", False, id="ip"),
    pytest.param("", "example.com", False, id="empty-pattern"),
])
def test_pattern_matches(pattern: str, name: str, matches: bool) -> None:
    assert pattern_matches(pattern, name) is matches


DIGEST = rule("enforce_digest", digest="sha512")


@pytest.mark.parametrize(("policy", "request_", "applies"), [
    pytest.param(pol("P", DIGEST), req("www.example.com"), True, id="cn"),
    pytest.param(pol("P", DIGEST), req("other.org", dns_names=("a.example.com",)), True,
                 id="san"),
    pytest.param(pol("P", DIGEST), req("other.org", emails=("a@example.com",)), False,
                 id="email-never"),
    pytest.param(pol("P", DIGEST, actions=("certificate.renew",)), req(), False,
                 id="action-mismatch"),
    pytest.param(pol("P", DIGEST, actions=("certificate.renew",)),
                 req(action="certificate.renew"), True, id="action-renew"),
    pytest.param(pol("P", DIGEST, enabled=False), req(), False, id="disabled"),
    pytest.param(pol("P", DIGEST, domains=()), req(), False, id="no-patterns"),
    pytest.param(pol("P", DIGEST, domains=("example.com",)), req("*.example.com"), False,
                 id="exact-vs-wildcard"),
])
def test_applicability(policy: Policy, request_: CertificateRequest, applies: bool) -> None:
    assert applicable_policies(request_, [policy]) == ([policy] if applies else [])
    # evaluate filters by itself: a non-applicable policy has no effect
    assert bool(evaluate(request_.replace(digest="sha256"), [policy]).violations) is applies


def test_applicable_policies_sorted_by_name() -> None:
    policies = [pol("b"), pol("a"), pol("c", domains=("other.org",))]
    assert [p.name for p in applicable_policies(req(), policies)] == ["a", "b"]


# ---------------------------------------------------------------------------
# apply_enforced
# ---------------------------------------------------------------------------


def test_apply_enforced_fills_empties_unions_usages_never_overwrites() -> None:
    request = req(organization="", country="FR", algorithm=None, digest=None,
                  key_usage=("keyAgreement", "digitalSignature"), extended_key_usage=())
    evaluation = evaluate(request, [EVERY_VALUE_RULE])
    result = apply_enforced(request, evaluation)
    assert result.organization == "Acme"      # "" counts as empty
    assert result.state == "Berlin"
    assert result.country == "FR"             # a different value stays; evaluate reported it
    assert [v.field for v in evaluation.violations] == ["country"]
    assert (result.algorithm, result.digest) == ("rsa-4096", "sha512")
    assert result.key_usage == ("keyAgreement", "digitalSignature", "keyEncipherment")
    assert result.extended_key_usage == ("clientAuth",)
    assert result.validity_days is None       # 10..30 is a range, not a lock


def test_apply_enforced_keeps_csr_key_and_returns_same_object_when_unchanged() -> None:
    policy = pol("P", rule("enforce_algorithm", algorithm="rsa-2048"))
    csr_request = req(csr_key=RSA_CSR)
    assert apply_enforced(csr_request, evaluate(csr_request, [policy])) is csr_request
    plain = req(algorithm="rsa-2048")
    assert apply_enforced(plain, evaluate(plain, [policy])) is plain


def test_apply_enforced_locks_validity_when_range_closes() -> None:
    policies = [pol("A", rule("enforce_min_validity", min_days=7),
                    rule("enforce_max_validity", max_days=7))]
    assert apply_enforced(req(), evaluate(req(), policies)).validity_days == 7
    assert apply_enforced(req(validity_days=9), evaluate(req(), policies)).validity_days == 9


def test_policies_and_rules_are_hashable_and_immutable() -> None:
    policy = pol("P", rule("enforce_key_usage", key_usage=["digitalSignature"]))
    assert hash(policy) == hash(pol("P", rule("enforce_key_usage",
                                                 key_usage=("digitalSignature",))))
    with pytest.raises(TypeError):
        policy.rules[0].values["key_usage"] = ()  # type: ignore[index]
