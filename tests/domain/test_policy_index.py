"""PolicyIndex is an optimisation: applicable_policies (brute force) is the oracle."""

from __future__ import annotations

import random

import pytest

from app.domain.choices import ACTIONS
from app.domain.policy import Policy, PolicyIndex, applicable_policies, pattern_matches
from app.domain.request import CertificateRequest

SEED = 20240611
# A small vocabulary so that patterns and names collide often, including the
# tricky cases: sibling strings (badexample), IDN A-labels, shared suffixes.
LABELS = ["a", "b", "www", "api", "prod", "dev", "xn--bcher-kva", "badexample", "example"]
ZONES = ["example.com", "badexample.com", "example.org", "xn--mller-kva.de", "co.uk"]


def _name(rng: random.Random) -> str:
    depth = rng.choice([0, 0, 1, 1, 2, 3])
    return ".".join([*(rng.choice(LABELS) for _ in range(depth)), rng.choice(ZONES)])


def _pattern(rng: random.Random) -> str:
    return ("*." if rng.random() < 0.5 else "") + _name(rng)


def _policies(rng: random.Random, count: int) -> list[Policy]:
    policies = []
    for i in range(count):
        actions = rng.choice([ACTIONS, ACTIONS[:1], ACTIONS[1:]])
        domains = tuple(_pattern(rng) for _ in range(rng.choice([0, 1, 1, 2, 3])))
        # Duplicate names on purpose: ties must be ordered identically.
        policies.append(Policy(name=f"policy-{rng.randrange(count // 2):04d}",
                               enabled=rng.random() < 0.85, actions=frozenset(actions),
                               domains=domains, id=str(i)))
    return policies


def _requests(rng: random.Random, count: int) -> list[CertificateRequest]:
    requests = []
    for _ in range(count):
        def name() -> str:
            return ("*." if rng.random() < 0.25 else "") + _name(rng)

        requests.append(CertificateRequest(
            common_name=rng.choice([name(), name(), "", "192.0.2.1"]),
            dns_names=tuple(name() for _ in range(rng.choice([0, 1, 2, 4]))),
            ip_addresses=("192.0.2.9",) if rng.random() < 0.2 else (),
            emails=(f"ops@{_name(rng)}",) if rng.random() < 0.2 else (),
            action=rng.choice(ACTIONS)))
    return requests


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Policy], list[CertificateRequest]]:
    rng = random.Random(SEED)
    return _policies(rng, 600), _requests(rng, 300)


def test_index_equals_brute_force(corpus: tuple[list[Policy], list[CertificateRequest]]) -> None:
    policies, requests = corpus
    index = PolicyIndex(policies)
    hits = 0
    for request in requests:
        expected = applicable_policies(request, policies)
        assert index.applicable(request) == expected, request
        hits += bool(expected)
    # Guard against a vacuous pass: the corpus must actually exercise matches.
    assert hits > len(requests) // 2


def test_index_drops_disabled_and_patternless_policies() -> None:
    policies = [Policy("on", domains=("*.example.com",)),
                Policy("off", enabled=False, domains=("*.example.com",)),
                Policy("none")]
    index = PolicyIndex(policies)
    assert len(index) == 2
    assert [p.name for p in index.applicable(CertificateRequest("example.com"))] == ["on"]


def test_index_accepts_a_generator() -> None:
    index = PolicyIndex(Policy(f"p{i}", domains=(f"h{i}.example.com",)) for i in range(3))
    assert [p.name for p in index.applicable(CertificateRequest("h1.example.com"))] == ["p1"]


def test_wildcard_request_matches_exactly_when_a_covered_name_would() -> None:
    """The wildcard rule in one sentence: ``*.B`` matches a pattern iff some name
    ``x.B`` it is valid for matches it.  Checked against explicit expansions."""
    rng = random.Random(SEED + 1)
    for _ in range(3000):
        pattern, base = _pattern(rng), _name(rng)
        pattern_base = pattern.removeprefix("*.")
        # Any label works as x unless the pattern names one exactly below B.
        candidates = [*LABELS, "zz-unlisted"]
        if pattern_base.endswith("." + base):
            candidates.append(pattern_base[: -len(base) - 1].rsplit(".", 1)[-1])
        expected = any(pattern_matches(pattern, f"{x}.{base}") for x in candidates)
        assert pattern_matches(pattern, f"*.{base}") is expected, (pattern, base)
