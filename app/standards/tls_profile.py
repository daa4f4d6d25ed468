"""CA/B Forum rules both the request checks (``app.domain``) and the PKI core
(``app.pki``) apply, so intake and signing cannot drift apart. Pure data and functions.

- ECDSA signatures use the hash of the signing key's curve (BR 7.1.3.2.2): P-256 →
  SHA-256, P-384 → SHA-384, P-521 → SHA-512. RSA signers choose freely.
- A ``serverAuth`` certificate has the TLS profile (BR 7.1.2.7): EKU serverAuth and
  optionally clientAuth only; DNS and IP SANs only; digitalSignature; never nonRepudiation
  or dataEncipherment (keyAgreement only beside digitalSignature, which is required).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

ECDSA_DIGEST_BY_BITS: Final[dict[int, str]] = {256: "sha256", 384: "sha384", 521: "sha512"}
CURVE_LABELS: Final[dict[int, str]] = {256: "P-256", 384: "P-384", 521: "P-521"}

TLS_EXTENDED_KEY_USAGES: Final[frozenset[str]] = frozenset({"serverAuth", "clientAuth"})
TLS_PROHIBITED_KEY_USAGES: Final[tuple[str, ...]] = ("nonRepudiation", "dataEncipherment")


def required_digest(family: str, bits: int) -> str | None:
    """The digest an issuer of this key must sign with, or None when it may choose
    (RSA). ``family`` is ``"ecdsa"``/``"ec"`` or ``"rsa"``."""
    if family in ("ecdsa", "ec"):
        return ECDSA_DIGEST_BY_BITS.get(bits)
    return None


def required_digest_for_algorithm(algorithm: str | None) -> str | None:
    """As :func:`required_digest`, from a platform algorithm id (``"ec-384"``)."""
    if not algorithm or "-" not in algorithm:
        return None
    family, _, bits = algorithm.partition("-")
    return required_digest(family, int(bits)) if bits.isdigit() else None


def digest_reason(bits: int) -> str:
    return (f"an ECDSA {CURVE_LABELS.get(bits, str(bits))} issuer signs with "
            f"{ECDSA_DIGEST_BY_BITS[bits].upper().replace('SHA', 'SHA-')} (CA/B Forum BR "
            "7.1.3.2.2)")


@dataclass(frozen=True)
class ProfileProblem:
    code: str
    field: str
    message: str


def server_auth_problems(key_usage: tuple[str, ...], extended_key_usage: tuple[str, ...],
                         emails: tuple[str, ...]) -> list[ProfileProblem]:
    """What keeps a request from the TLS server profile (empty when it is not a
    serverAuth request, or fits)."""
    if "serverAuth" not in extended_key_usage:
        return []
    problems = []
    others = [u for u in extended_key_usage if u not in TLS_EXTENDED_KEY_USAGES]
    if others:
        problems.append(ProfileProblem(
            "tls.extended_key_usage", "extended_key_usage",
            f"A TLS server certificate may add only clientAuth to serverAuth, not "
            f"{', '.join(others)}; request a separate certificate for that purpose."))
    if emails:
        problems.append(ProfileProblem(
            "tls.email_san", "sans",
            f"A TLS server certificate names only DNS names and IP addresses, not e-mail "
            f"addresses ({', '.join(emails)}); request an e-mail certificate for those."))
    if key_usage and "digitalSignature" not in key_usage:
        problems.append(ProfileProblem(
            "tls.digital_signature", "key_usage",
            "A TLS server certificate needs the digitalSignature key usage (every modern "
            "TLS handshake signs with the key)."))
    prohibited = [u for u in key_usage if u in TLS_PROHIBITED_KEY_USAGES]
    if prohibited:
        problems.append(ProfileProblem(
            "tls.key_usage", "key_usage",
            f"A TLS server certificate may not have {', '.join(prohibited)}; untick "
            f"{'it' if len(prohibited) == 1 else 'them'}."))
    return problems
