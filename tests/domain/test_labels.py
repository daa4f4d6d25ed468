"""Words for identifiers, counts in words, and why a policy removed algorithms."""
from __future__ import annotations

import pytest

from app.domain.choices import EXTENDED_KEY_USAGES, KEY_USAGES
from app.domain.labels import (
    EXTENDED_KEY_USAGE_LABELS,
    KEY_USAGE_LABELS,
    PATHWAY_LABELS,
    count_noun,
    requested_by_text,
)
from app.domain.policy import Policy, Rule, evaluate
from app.domain.request import CertificateRequest

SEED_WORDS = {"serverAuth": "TLS Web Server Authentication",
              "clientAuth": "TLS Web Client Authentication", "codeSigning": "Code Signing",
              "emailProtection": "E-mail Protection", "timeStamping": "Time Stamping",
              "digitalSignature": "Digital Signature", "nonRepudiation": "Non-Repudiation",
              "keyEncipherment": "Key Encipherment", "dataEncipherment": "Data Encipherment",
              "keyAgreement": "Key Agreement"}


def test_every_offered_usage_has_the_seeds_description() -> None:
    for name in KEY_USAGES:
        assert KEY_USAGE_LABELS[name] == SEED_WORDS[name]
    for name in EXTENDED_KEY_USAGES:
        assert EXTENDED_KEY_USAGE_LABELS[name] == SEED_WORDS[name]


@pytest.mark.parametrize(("n", "singular", "plural", "expected"), [
    (1, "policy", None, "1 policy"), (2, "policy", None, "2 policies"),
    (0, "day", None, "0 days"), (1, "day", None, "1 day"), (2, "key", None, "2 keys"),
    (1500, "order", None, "1,500 orders"), (3, "person", "people", "3 people")])
def test_count_noun(n: int, singular: str, plural: str | None, expected: str) -> None:
    assert count_noun(n, singular, plural) == expected


def test_requested_by_names_the_requester_and_the_pathway_in_words() -> None:
    assert requested_by_text("admin@example.com", "user", "csr_upload") == \
        "admin@example.com · CSR upload"
    assert requested_by_text("build-bot", "courier", "courier") == \
        "Courier build-bot · Courier API"
    assert set(PATHWAY_LABELS) >= {"wizard", "csr_upload", "courier", "acme_client"}


def _limits(*rules: Rule) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    policy = Policy(name="P", domains=("*.example.com",), rules=rules)
    allowed = evaluate(CertificateRequest(common_name="www.example.com"), [policy]).allowed
    return allowed.algorithms, allowed.algorithm_limits


def test_a_minimum_size_above_every_curve_says_no_ec_curve_offers_it() -> None:
    algorithms, limits = _limits(Rule("enforce_minimum_key_size", "hard",
                                      {"minimum_bits": 3072}))
    assert algorithms == ("rsa-3072", "rsa-4096")
    assert limits == (("P", "requires keys of at least 3072 bits, which no EC curve offers"),)


def test_limits_name_only_the_rules_that_removed_something() -> None:
    algorithms, limits = _limits(
        Rule("enforce_minimum_key_size", "hard", {"minimum_bits": 2048, "minimum_ec_bits": 384}),
        Rule("enforce_algorithm", "hard", {"algorithm": "ecdsa"}))
    assert algorithms == ("ec-384", "ec-521")
    assert limits == (("P", "allows only ECDSA keys"),
                      ("P", "requires RSA keys of at least 2048 bits and EC keys of at "
                            "least 384 bits"))
    assert _limits(Rule("enforce_minimum_key_size", "hard", {"minimum_bits": 256}))[1] == ()
    _, usage = _limits(Rule("enforce_key_usage", "hard", {"key_usage": ["keyEncipherment"]}))
    assert usage == (("P", "requires key usage keyEncipherment, which EC keys cannot have"),)
