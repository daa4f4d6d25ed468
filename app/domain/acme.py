"""Pure rules of the ACME server (SPEC 9, RFC 8555, RFC 9773): binding modes, problem
types, the renewal window and the RFC 9773 certificate identifier."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

BINDING_MODES = ("exact", "subdomains", "wildcard")
MIN_DAYS, MAX_DAYS = 1, 825
DEFAULT_DAYS = 90
#: Key algorithms an ACME server accepts by default (what certbot, lego and dehydrated make).
DEFAULT_ALGORITHMS = ("ec-256", "ec-384", "rsa-2048", "rsa-3072", "rsa-4096")
#: JWS algorithms accepted on requests (what certbot, lego and dehydrated sign with).
JWS_ALGORITHMS = ("ES256", "ES384", "RS256")
MIN_RSA_ACCOUNT_BITS = 2048

ERROR_NS = "urn:ietf:params:acme:error:"
PROBLEM_STATUS = {
    "malformed": 400, "badNonce": 400, "badSignatureAlgorithm": 400, "badPublicKey": 400,
    "badCSR": 400, "badRevocationReason": 400, "unauthorized": 403,
    "rejectedIdentifier": 400, "unsupportedIdentifier": 400, "accountDoesNotExist": 400,
    "externalAccountRequired": 400, "orderNotReady": 403, "rateLimited": 429,
    "alreadyRevoked": 400, "userActionRequired": 403, "serverInternal": 500,
    "alreadyReplaced": 409,
}


@dataclass(eq=False)  # an exception: compared and hashed by identity
class Problem(Exception):
    """An RFC 7807 problem document with an ACME error type (``type`` without the
    namespace). ``violations`` are the platform's ``[{code, field, message}]``."""

    type: str
    detail: str
    subproblems: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    retry_after: int | None = None
    status: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    @property
    def http_status(self) -> int:
        return self.status or PROBLEM_STATUS.get(self.type, 400)

    def document(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": ERROR_NS + self.type, "detail": self.detail,
                                "status": self.http_status}
        if self.subproblems:
            body["subproblems"] = self.subproblems
        if self.violations:
            body["violations"] = self.violations
        return body


def parse_binding(spec: str) -> tuple[str, str]:
    """``example.com[:exact|subdomains|wildcard]`` → (domain, mode); mode defaults to exact."""
    domain, _, mode = spec.strip().partition(":")
    mode = (mode or "exact").strip().lower()
    if mode not in BINDING_MODES:
        raise ValueError(f"Binding mode '{mode[:20]}' is not one of "
                         f"{', '.join(BINDING_MODES)}.")
    return domain.strip(), mode


def binding_covers(name: str, domain: str, mode: str) -> bool:
    """True when a binding of ``domain`` in ``mode`` authorizes the normalised ``name``."""
    wildcard = name.startswith("*.")
    base = name[2:] if wildcard else name
    under = base == domain or base.endswith("." + domain)
    if mode == "exact":
        return not wildcard and base == domain
    if mode == "subdomains":
        return not wildcard and under
    return under  # wildcard mode


def binding_problem(name: str, bindings: list[tuple[str, str]]) -> str | None:
    """Why no binding authorizes ``name`` although one covers its domain (the mode is the
    obstacle), or None — a name under no bound domain at all is the scope check's to
    report, so it is not reported twice."""
    if any(binding_covers(name, d, m) for d, m in bindings):
        return None
    base = name.removeprefix("*.")
    related = [(d, m) for d, m in bindings if base == d or base.endswith("." + d)]
    if not related:
        return None
    domain, mode = related[0]
    if name.startswith("*."):
        return (f"{name} is a wildcard name, but the binding of {domain} is '{mode}'; "
                "ask an administrator for a 'wildcard' binding.")
    return (f"{name} is below {domain}, but the binding of {domain} allows only that exact "
            "name; ask an administrator for a 'subdomains' binding.")


def renewal_window(not_before: datetime, not_after: datetime, *, now: datetime,
                   revoked_issuer: bool = False) -> tuple[datetime, datetime]:
    """RFC 9773 suggested window: the last third of the validity; at once (a window that
    has started) when the certificate's issuing CA is revoked."""
    if revoked_issuer:
        return now - timedelta(hours=1), now
    lifetime = not_after - not_before
    return not_before + lifetime * 2 / 3, not_after


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    if not text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-_" for c in text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def serial_der_bytes(serial: int) -> bytes:
    """The serial's DER INTEGER content octets (with a leading zero when the top bit is set)."""
    length = serial.bit_length() // 8 + 1
    return serial.to_bytes(length, "big")


def cert_id(authority_key_id: bytes, serial: int) -> str:
    """RFC 9773 §4.1 unique identifier: base64url(AKI keyIdentifier) '.' base64url(serial)."""
    return f"{_b64url(authority_key_id)}.{_b64url(serial_der_bytes(serial))}"


def parse_cert_id(text: str) -> tuple[bytes, int]:
    """(AKI keyIdentifier, serial) from an RFC 9773 identifier; ValueError if malformed."""
    if len(text) > 300 or text.count(".") != 1:
        raise ValueError("An ARI certificate identifier is two base64url parts joined by '.'.")
    aki, serial = (_unb64url(part) for part in text.split("."))
    if not aki or not serial:
        raise ValueError("Both parts of the certificate identifier must be non-empty.")
    return aki, int.from_bytes(serial, "big")
