"""Shared fixtures for the PKI tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.pki.keys import PrivateKey, generate_private_key

KeyFactory = Callable[..., PrivateKey]


@pytest.fixture(scope="session")
def key_factory() -> KeyFactory:
    """Return ``get(algorithm, slot=0)``: a generated key, cached for the whole session.

    RSA-4096 generation takes ~0.5 s, so each (algorithm, slot) is generated once;
    use different slots where two distinct keys are needed (root vs intermediate).
    """
    cache: dict[tuple[str, int], PrivateKey] = {}

    def get(algorithm: str, slot: int = 0) -> PrivateKey:
        if (algorithm, slot) not in cache:
            cache[algorithm, slot] = generate_private_key(algorithm)
        return cache[algorithm, slot]

    return get


def _signing_pairs() -> list[tuple[str, str]]:
    from app.pki.algorithms import ALGORITHMS, DIGESTS
    from app.standards.tls_profile import required_digest_for_algorithm

    # An ECDSA issuer signs with its curve's hash only (BR 7.1.3.2.2); RSA with any.
    return [(a, d) for a in ALGORITHMS for d in DIGESTS
            if required_digest_for_algorithm(a) in (None, d)]


#: Every (issuer algorithm, digest) the platform signs with.
SIGNING_PAIRS = _signing_pairs()
