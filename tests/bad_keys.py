"""Broken RSA keys made on the spot for the key-quality tests: a modulus with a small
prime factor, primes close enough for Fermat's method, and ROCA-fingerprinted primes
(the structure of Infineon's generator, CVE-2017-15361). Every key is 2048 bits and
signs CSRs like any other, so only the key-quality checks can tell."""
from __future__ import annotations

import secrets

import gmpy2
from cryptography.hazmat.primitives.asymmetric import rsa

E = 65537
# The ROCA fingerprint modulus badkeys tests against (a product of small prime powers).
ROCA_MODULUS = 0x924CBA6AE99DFA084537FACC54948DF0C23DA044D8CABE0EDD75BC6


def _prime(bits: int) -> int:
    return int(gmpy2.next_prime(secrets.randbits(bits) | (3 << (bits - 2))))


def key_from_primes(p: int, q: int) -> rsa.RSAPrivateKey:
    n, phi = p * q, (p - 1) * (q - 1)
    d = pow(E, -1, phi)
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p),
        public_numbers=rsa.RSAPublicNumbers(E, n))
    # OpenSSL's own key checks would refuse some of these; the point is to reach ours.
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def _usable(p: int, q: int) -> bool:
    return p != q and (p * q).bit_length() == 2048 and gmpy2.gcd(E, (p - 1) * (q - 1)) == 1


def factorable_key() -> rsa.RSAPrivateKey:
    """n = 65521 · q: a small prime divides the modulus."""
    while True:
        p, q = 65521, _prime(2048 - 16)
        if _usable(p, q):
            return key_from_primes(p, q)


def close_primes_key() -> rsa.RSAPrivateKey:
    """|p - q| ≈ 2^100: Fermat's method finds the factors in its first round."""
    while True:
        p = _prime(1024)
        q = int(gmpy2.next_prime(p + (1 << 100)))
        if _usable(p, q):
            return key_from_primes(p, q)


def _roca_prime() -> int:
    low = -(-(1 << 1023) // ROCA_MODULUS)          # every k in [low, high) gives 1024 bits
    high = ((1 << 1024) - ROCA_MODULUS) // ROCA_MODULUS
    while True:
        k = low + secrets.randbelow(high - low)
        candidate = k * ROCA_MODULUS + pow(E, secrets.randbelow(2**62), ROCA_MODULUS)
        if gmpy2.is_prime(candidate):
            return candidate


def roca_key() -> rsa.RSAPrivateKey:
    """Both primes of the form k·M + 65537^a mod M, as Infineon's generator made them."""
    while True:
        p, q = _roca_prime(), _roca_prime()
        if _usable(p, q):
            return key_from_primes(p, q)
