"""Is a public key worth certifying? Keys that can be broken are refused before any
certificate names them (SPEC 5; Boulder's goodkey).

RSA: badkeys' offline checks — a small prime dividing the modulus (``smallfactors``),
primes close enough for Fermat's method (``fermat``), the ROCA fingerprint
(``roca``, CVE-2017-15361), invalid values (``rsainvalid``), a modulus pattern that
allows polynomial factoring (``rsapoly``) and a small private exponent (``smalld``,
Wiener). badkeys' ``blocklist`` of published private keys needs a download
(``badkeys --update-bl``) that this platform cannot make offline, so it is not run; nor is
``sharedprimes`` (it needs a corpus of keys).

EC: the public point is validated — coordinates inside the field, on the curve, not the
point at infinity (NIST curves have cofactor 1, so a point on the curve has the full
prime order).

One function, :func:`check_key_quality`, for every channel that takes a key (CSR upload,
courier API, ACME) and as an assertion on keys the platform generates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.pki.errors import WeakKey

RSA_CHECKS: Final[tuple[str, ...]] = (
    "smallfactors", "fermat", "roca", "rsainvalid", "rsapoly", "smalld")

_REASONS: Final[dict[str, str]] = {
    "smallfactors": "a small prime divides its modulus, so it is trivially factored",
    "fermat": "its two primes are so close together that Fermat's method factors it",
    "roca": "it carries the ROCA fingerprint (CVE-2017-15361, Infineon key generation), "
            "so it can be factored",
    "rsainvalid": "its public values are invalid",
    "rsapoly": "its modulus has a pattern that lets it be factored",
    "smalld": "its private exponent is small enough for Wiener's attack",
}


class BadKey(WeakKey):
    """A key of an accepted type and size that is nonetheless broken. ``check`` names the
    badkeys check (or ``ec_point``) that found it."""

    def __init__(self, message: str, check: str) -> None:
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class _Curve:
    p: int
    a: int
    b: int


# FIPS 186-4 D.1.2 / SEC 2: y^2 = x^3 - 3x + b over GF(p).
_CURVES: Final[dict[str, _Curve]] = {
    "secp256r1": _Curve(
        p=2**256 - 2**224 + 2**192 + 2**96 - 1, a=-3,
        b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B),
    "secp384r1": _Curve(
        p=2**384 - 2**128 - 2**96 + 2**32 - 1, a=-3,
        b=int("B3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875A"
              "C656398D8A2ED19D2A85C8EDD3EC2AEF", 16)),
    "secp521r1": _Curve(
        p=2**521 - 1, a=-3,
        b=int("0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF1"
              "09E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00", 16)),
}


def _reason(check: str, holder: str) -> str:
    return (f"The {holder}'s key is not safe to certify: "
            f"{_REASONS.get(check, 'badkeys flags it (' + check + ')')}. Generate a new "
            "key with an up-to-date tool.")


def check_rsa(public_key: rsa.RSAPublicKey, holder: str = "CSR") -> None:
    """Raise :class:`BadKey` when one of badkeys' offline checks breaks the key."""
    import badkeys

    numbers = public_key.public_numbers()
    found = badkeys.checkrsa(numbers.n, e=numbers.e, checks=RSA_CHECKS)
    for check in RSA_CHECKS:  # report in a stable order
        if check in found:
            raise BadKey(_reason(check, holder), check)


def check_ec_point(public_key: ec.EllipticCurvePublicKey, holder: str = "CSR") -> None:
    """Raise :class:`BadKey` unless the public point is a valid point of its curve."""
    curve = _CURVES.get(public_key.curve.name)
    if curve is None:
        return  # curves are judged by check_subject_key; nothing to validate here
    numbers = public_key.public_numbers()
    x, y = numbers.x, numbers.y
    on_curve = (0 <= x < curve.p and 0 <= y < curve.p
                and (y * y - (x * x * x + curve.a * x + curve.b)) % curve.p == 0)
    if not on_curve:
        raise BadKey(f"The {holder}'s elliptic-curve public key is not a valid point of "
                     f"its curve ({public_key.curve.name}).", "ec_point")


def check_key_quality(key: object, holder: str = "CSR") -> None:
    """Refuse a key (public or private) that can be broken (:class:`BadKey`); other key
    types pass here (type and size are :func:`app.pki.subject_keys.check_subject_key`'s
    job)."""
    public_key = key.public_key() if isinstance(
        key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) else key
    if isinstance(public_key, rsa.RSAPublicKey):
        check_rsa(public_key, holder)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        check_ec_point(public_key, holder)
