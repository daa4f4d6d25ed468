"""The closed sets of values a certificate request may choose from (SPEC 6.1).

Pure data plus two tiny helpers that read an algorithm id.  Every other module
(wizard, policy engine, policy schema, validation) takes its choices from here
so that a value offered in the UI is exactly a value the engine understands.
"""

from __future__ import annotations

__all__ = [
    "ACTIONS",
    "ALGORITHMS",
    "ALGORITHM_FAMILIES",
    "DEFAULT_ALGORITHM",
    "DEFAULT_DIGEST",
    "DEFAULT_EXTENDED_KEY_USAGE",
    "DEFAULT_KEY_USAGE",
    "DEFAULT_VALIDITY_DAYS",
    "DIGESTS",
    "EC_CURVES",
    "EC_FORBIDDEN_KEY_USAGES",
    "EXTENDED_KEY_USAGES",
    "KEY_USAGES",
    "MAX_SAN_ENTRIES",
    "MAX_VALIDITY_DAYS",
    "MIN_VALIDITY_DAYS",
    "algorithm_bits",
    "algorithm_family",
    "algorithm_for_key",
]

#: Key algorithms the platform generates, weakest first within a family.
ALGORITHMS: tuple[str, ...] = ("rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521")
#: Key families as policies name them (``enforce_algorithm`` accepts these or an exact id).
ALGORITHM_FAMILIES: tuple[str, ...] = ("rsa", "ecdsa")
DIGESTS: tuple[str, ...] = ("sha256", "sha384", "sha512")
KEY_USAGES: tuple[str, ...] = (
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
)
EXTENDED_KEY_USAGES: tuple[str, ...] = (
    "serverAuth",
    "clientAuth",
    "codeSigning",
    "emailProtection",
    "timeStamping",
)

DEFAULT_KEY_USAGE: tuple[str, ...] = ("digitalSignature", "keyEncipherment")
DEFAULT_EXTENDED_KEY_USAGE: tuple[str, ...] = ("serverAuth",)
DEFAULT_DIGEST = "sha256"
DEFAULT_ALGORITHM = "ec-256"
DEFAULT_VALIDITY_DAYS = 365
MIN_VALIDITY_DAYS = 1
MAX_VALIDITY_DAYS = 3650
#: Most SAN entries (DNS names, IPs, e-mails) one request may list.
MAX_SAN_ENTRIES = 100

#: Policy ``matching_criteria.actions``; a request carries exactly one of these.
ACTIONS: tuple[str, ...] = ("certificate.generate", "certificate.renew")

# An ECDSA key can only sign; it has no encryption primitive, so a certificate
# claiming keyEncipherment or dataEncipherment for it promises something the
# key cannot do (and pkilint flags it).  Key exchange with an EC key is
# ECDH, which is what keyAgreement expresses.
EC_FORBIDDEN_KEY_USAGES: tuple[str, ...] = ("keyEncipherment", "dataEncipherment")

#: Named curves we accept, by the names the ``cryptography`` package and
#: OpenSSL use, mapped to their size in bits.  "prime256v1" is OpenSSL's alias.
EC_CURVES: dict[str, int] = {
    "secp256r1": 256,
    "prime256v1": 256,
    "p-256": 256,
    "secp384r1": 384,
    "p-384": 384,
    "secp521r1": 521,
    "p-521": 521,
}

_FAMILY_BY_PREFIX = {"rsa": "rsa", "ec": "ecdsa"}


def _split(alg: str) -> tuple[str, int]:
    if alg not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {alg!r}; expected one of {', '.join(ALGORITHMS)}")
    prefix, bits = alg.split("-")
    return _FAMILY_BY_PREFIX[prefix], int(bits)


def algorithm_family(alg: str) -> str:
    """``"rsa"`` or ``"ecdsa"`` for an id in :data:`ALGORITHMS`.

    Raises:
        ValueError: ``alg`` is not one of :data:`ALGORITHMS`.
    """
    return _split(alg)[0]


def algorithm_bits(alg: str) -> int:
    """RSA modulus size, or EC curve size (256/384/521), for an id in :data:`ALGORITHMS`.

    Raises:
        ValueError: ``alg`` is not one of :data:`ALGORITHMS`.
    """
    return _split(alg)[1]


def algorithm_for_key(family: str, bits: int) -> str | None:
    """The algorithm id matching a key's family and size, or ``None`` if we offer none.

    Useful to show a CSR's key in the same vocabulary as generated keys.  Never raises.
    """
    for alg in ALGORITHMS:
        if _split(alg) == (family, bits):
            return alg
    return None
