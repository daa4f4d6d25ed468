"""Verifying ACME requests (RFC 8555 §6): flattened JWS with ES256, ES384 or RS256
(RSA ≥ 2048 bits) checked by josepy, the protected ``url`` equal to PUBLIC_BASE_URL + the
request path, single-use expiring nonces in Redis, ``jwk`` only where the RFC allows it
(newAccount, revokeCert by the certificate's key) and ``kid`` elsewhere, and External
Account Binding (HMAC over the account key). Every failure is a ``Problem``."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

import josepy as jose
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

from app.domain.acme import JWS_ALGORITHMS, MIN_RSA_ACCOUNT_BITS, Problem
from app.jobs.queue import redis_connection

MAX_BODY_BYTES = 64 * 1024
NONCE_TTL_SECONDS = 3600
EAB_ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
_CURVES = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1}


# ---- nonces ---------------------------------------------------------------------------------

def _redis() -> Redis:
    conn = current_app.extensions.get("acme_redis")
    if conn is None:
        conn = current_app.extensions["acme_redis"] = redis_connection()
    return conn


def _nonce_key(nonce: str) -> str:
    return f"acme-nonce:{current_app.config['RQ_QUEUE']}:{nonce}"


def new_nonce() -> str:
    nonce = secrets.token_urlsafe(16)
    try:
        _redis().set(_nonce_key(nonce), b"1", ex=NONCE_TTL_SECONDS)
    except RedisError as exc:
        raise Problem("serverInternal", "The nonce store is unavailable; retry shortly.",
                      status=503, retry_after=5) from exc
    return nonce


def _consume_nonce(nonce: Any) -> None:
    if not isinstance(nonce, str) or not 1 <= len(nonce) <= 64:
        raise Problem("badNonce", "The protected header needs the nonce from Replay-Nonce.")
    try:
        fresh = _redis().delete(_nonce_key(nonce)) == 1
    except RedisError as exc:
        raise Problem("serverInternal", "The nonce store is unavailable; retry shortly.",
                      status=503, retry_after=5) from exc
    if not fresh:
        raise Problem("badNonce", "The nonce is unknown, expired or already used; use the "
                                  "Replay-Nonce of this answer.")


# ---- the JWS --------------------------------------------------------------------------------

def b64url_decode(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("not a string")
    if "=" in text or "+" in text or "/" in text:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


@dataclass(frozen=True)
class Verified:
    """A verified request: its payload (None for POST-as-GET), the protected header, and
    either the ``kid`` (an account URL) or the ``jwk`` it was signed with."""

    payload: dict[str, Any] | None
    protected: dict[str, Any]
    kid: str | None
    jwk: jose.JWK | None
    signing_jwk: jose.JWK


def _parse(raw: bytes) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem("malformed", "The body is not JSON.") from exc
    if not isinstance(body, dict) or set(body) != {"protected", "payload", "signature"}:
        raise Problem("malformed", "The body must be a flattened JWS with exactly "
                                   "'protected', 'payload' and 'signature'.")
    try:
        protected = json.loads(b64url_decode(body["protected"]))
        payload_raw = b64url_decode(body["payload"])
        b64url_decode(body["signature"])
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem("malformed", "The JWS parts must be base64url without padding, the "
                                   "protected header base64url JSON.") from exc
    if not isinstance(protected, dict):
        raise Problem("malformed", "The protected header must be a JSON object.")
    return body, protected, payload_raw


def _check_key(alg: str, jwk: jose.JWK) -> None:
    key = jwk.key._wrapped if hasattr(jwk.key, "_wrapped") else jwk.key
    if alg in _CURVES:
        if not isinstance(key, ec.EllipticCurvePublicKey) \
                or not isinstance(key.curve, _CURVES[alg]):
            raise Problem("badPublicKey", f"{alg} needs an EC key on the matching curve.")
    elif not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_ACCOUNT_BITS:
        raise Problem("badPublicKey", f"RS256 needs an RSA key of at least "
                                      f"{MIN_RSA_ACCOUNT_BITS} bits.")


def parse_jwk(value: Any) -> jose.JWK:
    if not isinstance(value, dict) or value.get("kty") not in ("EC", "RSA") \
            or any(k in value for k in ("d", "p", "q")):
        raise Problem("badPublicKey", "The jwk must be a public EC or RSA key.")
    try:
        return jose.JWK.from_json(value)
    except (jose.DeserializationError, ValueError, TypeError, KeyError) as exc:
        raise Problem("badPublicKey", "The jwk is not a valid public key.") from exc


def verify(raw: bytes, *, expected_url: str, allow_jwk: bool, require_jwk: bool = False,
           key_for_kid: Any = None) -> Verified:
    """Check the JWS in ``raw`` against the rules above. ``key_for_kid(kid)`` returns the
    account's JWK (or raises the Problem for an unknown/disabled account)."""
    if len(raw) > MAX_BODY_BYTES:
        raise Problem("malformed", f"The body is larger than {MAX_BODY_BYTES} bytes.",
                      status=413)
    body, protected, payload_raw = _parse(raw)
    alg = protected.get("alg")
    if alg not in JWS_ALGORITHMS:
        raise Problem("badSignatureAlgorithm",
                      f"Algorithm {str(alg)[:20]!r} is not accepted; use one of "
                      f"{', '.join(JWS_ALGORITHMS)}.")
    unknown_crit = protected.get("crit")
    if unknown_crit is not None:
        raise Problem("malformed", "No 'crit' header parameters are supported.")
    has_jwk, has_kid = "jwk" in protected, "kid" in protected
    if has_jwk == has_kid:
        raise Problem("malformed", "The protected header needs exactly one of 'jwk' and "
                                   "'kid'.")
    if has_jwk and not allow_jwk:
        raise Problem("malformed", "This resource needs 'kid' (the account URL), not 'jwk'.")
    if has_kid and require_jwk:
        raise Problem("malformed", "newAccount is signed with the new key: use 'jwk', not "
                                   "'kid'.")
    if protected.get("url") != expected_url:
        raise Problem("unauthorized", f"The protected 'url' must be {expected_url}.")
    if has_jwk:
        jwk = parse_jwk(protected["jwk"])
        kid = None
    else:
        kid = protected["kid"]
        if not isinstance(kid, str) or len(kid) > 300:
            raise Problem("malformed", "'kid' must be the account URL.")
        jwk = None
    signing = jwk if jwk is not None else key_for_kid(kid)
    _check_key(alg, signing)
    _consume_nonce(protected.get("nonce"))
    try:
        ok = jose.JWASignature.from_json(alg).verify(
            signing.key, f"{body['protected']}.{body['payload']}".encode(),
            b64url_decode(body["signature"]))
    except Exception:  # josepy raises assorted errors on garbage signatures
        ok = False
    if not ok:
        raise Problem("malformed", "The JWS signature does not verify.")
    payload: dict[str, Any] | None
    if payload_raw == b"":
        payload = None
    else:
        try:
            payload = json.loads(payload_raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise Problem("malformed", "The payload is not JSON.") from exc
        if not isinstance(payload, dict):
            raise Problem("malformed", "The payload must be a JSON object.")
    return Verified(payload=payload, protected=protected, kid=kid, jwk=jwk,
                    signing_jwk=signing)


def thumbprint(jwk: jose.JWK) -> str:
    return base64.urlsafe_b64encode(jwk.thumbprint()).decode().rstrip("=")


def verify_eab(eab: Any, *, account_jwk: jose.JWK, expected_url: str,
               hmac_key_for: Any) -> str:
    """Check an externalAccountBinding (RFC 8555 §7.3.4); returns its kid.
    ``hmac_key_for(kid)`` returns the HMAC key or raises the Problem."""
    if not isinstance(eab, dict) or set(eab) != {"protected", "payload", "signature"}:
        raise Problem("malformed", "externalAccountBinding must be a flattened JWS.")
    try:
        protected = json.loads(b64url_decode(eab["protected"]))
        payload = json.loads(b64url_decode(eab["payload"]))
        signature = b64url_decode(eab["signature"])
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem("malformed", "externalAccountBinding is not a valid JWS.") from exc
    if not isinstance(protected, dict):
        raise Problem("malformed", "externalAccountBinding's header must be an object.")
    alg = protected.get("alg")
    if alg not in EAB_ALGORITHMS:
        raise Problem("badSignatureAlgorithm", "externalAccountBinding must use HS256, "
                                               "HS384 or HS512.")
    if "nonce" in protected:
        raise Problem("malformed", "externalAccountBinding must not carry a nonce.")
    if protected.get("url") != expected_url:
        raise Problem("unauthorized", "externalAccountBinding's url must be the newAccount "
                                      "URL.")
    kid = protected.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 64:
        raise Problem("unauthorized", "externalAccountBinding needs the EAB key id as kid.")
    try:
        bound = jose.JWK.from_json(payload)
    except Exception as exc:
        raise Problem("malformed", "externalAccountBinding's payload must be the account "
                                   "key (a JWK).") from exc
    if bound.thumbprint() != account_jwk.thumbprint():
        raise Problem("unauthorized", "externalAccountBinding binds a different key than the "
                                      "one that signed the request.")
    key = hmac_key_for(kid)
    expected = hmac.new(key, f"{eab['protected']}.{eab['payload']}".encode(),
                        EAB_ALGORITHMS[alg]).digest()
    if not hmac.compare_digest(expected, signature):
        raise Problem("unauthorized", "The externalAccountBinding's MAC does not verify with "
                                      "this EAB key.")
    return kid
