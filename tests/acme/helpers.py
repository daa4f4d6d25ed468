"""A minimal ACME client over Flask's test client, signing with josepy exactly as RFC 8555
describes, and able to break every rule on purpose (the hostile battery)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import josepy as jose
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask
from flask.testing import FlaskClient

JOSE = "application/jose+json"
BASE = "http://localhost"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def ec_key(curve: ec.EllipticCurve | None = None) -> jose.JWK:
    return jose.JWKEC(key=ec.generate_private_key(curve or ec.SECP256R1()))


def rsa_key(bits: int = 2048) -> jose.JWK:
    return jose.JWKRSA(key=rsa.generate_private_key(65537, bits))


def alg_for(key: jose.JWK) -> str:
    if isinstance(key, jose.JWKRSA):
        return "RS256"
    return {256: "ES256", 384: "ES384", 521: "ES512"}[key.key.curve.key_size]


def sign(key: jose.JWK, protected: dict[str, Any], payload: bytes | dict | None,
         alg: str | None = None) -> dict[str, str]:
    alg = alg or alg_for(key)
    header = b64(json.dumps(protected | {"alg": alg}).encode())
    body = b"" if payload is None else (payload if isinstance(payload, bytes)
                                        else json.dumps(payload).encode())
    body_b64 = b64(body)
    signature = jose.JWASignature.from_json(alg).sign(key.key, f"{header}.{body_b64}"
                                                      .encode())
    return {"protected": header, "payload": body_b64, "signature": b64(signature)}


def eab(kid: str, hmac_key_b64: str, account_key: jose.JWK, url: str) -> dict[str, str]:
    header = b64(json.dumps({"alg": "HS256", "kid": kid, "url": url}).encode())
    payload = b64(json.dumps(account_key.public_key().to_json()).encode())
    key = base64.urlsafe_b64decode(hmac_key_b64 + "=" * (-len(hmac_key_b64) % 4))
    mac = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return {"protected": header, "payload": payload, "signature": b64(mac)}


@dataclass
class Client:
    """One ACME account key talking to one server through the Flask test client."""

    flask: FlaskClient
    server_id: str
    key: jose.JWK = field(default_factory=ec_key)
    kid: str | None = None

    def url(self, path: str) -> str:
        return f"{BASE}/acme/{self.server_id}/{path}"

    def path(self, url: str) -> str:
        return url.removeprefix(BASE)

    def nonce(self) -> str:
        return self.flask.head(f"/acme/{self.server_id}/new-nonce").headers["Replay-Nonce"]

    def post(self, url: str, payload: bytes | dict | None, *, use_jwk: bool = False,
             key: jose.JWK | None = None, protected: dict[str, Any] | None = None,
             alg: str | None = None, content_type: str = JOSE, raw: Any = None):
        key = key or self.key
        header: dict[str, Any] = {"nonce": self.nonce(), "url": url}
        if use_jwk or self.kid is None:
            header["jwk"] = key.public_key().to_json()
        else:
            header["kid"] = self.kid
        header.update(protected or {})
        header = {k: v for k, v in header.items() if v is not None}
        body = raw if raw is not None else json.dumps(sign(key, header, payload, alg))
        return self.flask.post(self.path(url), data=body, content_type=content_type)

    def register(self, eab_kid: str, eab_hmac: str, **extra: Any):
        url = self.url("new-account")
        response = self.post(url, {"termsOfServiceAgreed": True,
                                   "externalAccountBinding": eab(eab_kid, eab_hmac, self.key,
                                                                 url), **extra},
                             use_jwk=True)
        if response.status_code in (200, 201):
            self.kid = response.headers["Location"]
        return response

    def new_order(self, *names: str, **extra: Any):
        return self.post(self.url("new-order"), {
            "identifiers": [{"type": "dns", "value": n} for n in names], **extra})


def problem_type(response) -> str:
    assert response.mimetype == "application/problem+json", (response.status_code,
                                                             response.get_data(as_text=True))
    return response.get_json()["type"].removeprefix("urn:ietf:params:acme:error:")


def make_acme_server(app: Flask, issuer_id: str, name: str = "Test ACME", **kw: Any) -> str:
    from app.services import acme_admin

    with app.app_context():
        return str(acme_admin.create_server(acme_admin.ServerSettings(
            name=name, issuer=issuer_id, **kw)).id)


def make_account(app: Flask, server_id: str, name: str, bindings: list[str],
                 email: str = "ops@example.com") -> tuple[str, str, str]:
    """(account id, eab kid, eab hmac key)."""
    from app.services import acme_admin

    with app.app_context():
        made = acme_admin.create_account(acme_admin.get_server(server_id), name, email,
                                         bindings)
        return str(made.account.id), made.eab_kid, made.eab_hmac_key
