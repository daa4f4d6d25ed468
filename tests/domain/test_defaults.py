"""The defaults both the wizard and the courier API use."""
from __future__ import annotations

from app.domain.defaults import (
    default_algorithm,
    default_digest,
    default_key_usage,
    default_validity,
    with_defaults,
)
from app.domain.policy import Policy, Rule, evaluate
from app.domain.request import CertificateRequest, PublicKeyFacts


def _evaluation(*rules: Rule, name: str = "www.example.com"):
    policy = Policy(name="P", domains=("*.example.com",), rules=rules)
    return evaluate(CertificateRequest(common_name=name), [policy])


def test_plain_defaults() -> None:
    request = with_defaults(CertificateRequest(common_name="www.example.com"), _evaluation())
    assert (request.algorithm, request.digest, request.validity_days) == ("ec-256", "sha256", 365)
    assert request.key_usage == ("digitalSignature",)  # EC: no keyEncipherment
    assert request.extended_key_usage == ("serverAuth",)


def test_policy_bounds_shape_the_defaults() -> None:
    evaluation = _evaluation(Rule("enforce_algorithm", "hard", {"algorithm": "rsa"}),
                             Rule("enforce_max_validity", "hard", {"max_days": 90}))
    assert default_algorithm(evaluation.allowed).startswith("rsa-")
    assert default_validity(evaluation.allowed) == 90
    request = with_defaults(CertificateRequest(common_name="www.example.com"), evaluation)
    assert request.key_usage == ("digitalSignature", "keyEncipherment")


def test_enforced_fields_stay_empty_for_the_policy_to_fill() -> None:
    evaluation = _evaluation(Rule("enforce_digest", "hard", {"digest": "sha384"}))
    request = with_defaults(CertificateRequest(common_name="www.example.com"), evaluation)
    assert request.digest is None
    assert default_digest(evaluation.allowed) == "sha384"  # the only digest allowed


def test_a_csr_request_gets_no_algorithm_and_nothing_chosen_is_changed() -> None:
    request = CertificateRequest(common_name="www.example.com", digest="sha512",
                                 csr_key=PublicKeyFacts(family="rsa", bits=2048))
    filled = with_defaults(request, _evaluation())
    assert filled.algorithm is None and filled.digest == "sha512"
    assert filled.key_usage == default_key_usage(False)
