"""Bad input battery: every case gets a clear JSON error with the right status, and writes
nothing (no order, no idempotency key, no certificate, no alert) — except the one
policy_hard_fail alert SPEC 3 asks for when a hard policy rule is broken."""
from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from app.extensions import db
from app.models import CertificateAlert
from tests.api.conftest import (
    API,
    bearer,
    csr_with_bad_signature,
    make_courier,
    make_csr,
    new_key,
    pem_wrap,
    row_counts,
    token_for,
)
from tests.builders import add_domain, add_policy


@dataclass
class World:
    token: str                 # courier "alpha": example.com only, has an encryption key
    keyless_token: str         # courier "keyless": example.com, no encryption key
    disabled_token: str        # a token of a courier disabled afterwards
    other_order: str           # an order of courier "beta"


@pytest.fixture
def world(app, client, pki) -> World:
    from app.services import couriers

    add_domain(app, "example.org")  # active, but in no courier's scope
    add_policy(app, "Strict names", ["forbidden.example.com"], [
        {"action": "enforce_max_validity", "fail": "hard", "values": {"max_days": 30}}])
    add_policy(app, "Strong keys", ["strong.example.com"], [
        {"action": "enforce_minimum_key_size", "fail": "hard",
         "values": {"minimum_bits": 3072, "minimum_ec_bits": 384}}])
    add_policy(app, "Long digests", ["digest.example.com"], [
        {"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha384"}}])
    alpha = make_courier(app, "alpha")
    keyless = make_courier(app, "keyless", key=None)
    gone = make_courier(app, "gone")
    beta = make_courier(app, "beta")
    gone_token = token_for(client, gone)
    with app.app_context():
        couriers.set_enabled(couriers.get_courier(gone.id), False)
    response = client.post(f"{API}/certificates", json={"csr": make_csr()},
                           headers=bearer(token_for(client, beta)))
    assert response.status_code == 202
    return World(token=token_for(client, alpha), keyless_token=token_for(client, keyless),
                 disabled_token=gone_token, other_order=response.get_json()["order_id"])


@dataclass
class Case:
    send: Callable[[World], dict[str, Any]]      # kwargs for client.open
    status: int
    code: str                                    # error.code
    details: list[str] = field(default_factory=list)   # details[].code, in order
    hard_alerts: int = 0


def post(body: Any = None, *, token: str = "token", raw: bytes | str | None = None,
         content_type: str = "application/json", path: str = "/certificates",
         headers: dict[str, str] | None = None) -> Callable[[World], dict[str, Any]]:
    def send(w: World) -> dict[str, Any]:
        data = raw if raw is not None else json.dumps(body)
        return {"method": "POST", "path": API + path, "data": data,
                "content_type": content_type,
                "headers": {**bearer(getattr(w, token)),
                            "Idempotency-Key": f"battery-{uuid.uuid4()}", **(headers or {})}}
    return send


def get(path: Callable[[World], str], token: str = "token") -> Callable[[World], dict[str, Any]]:
    def send(w: World) -> dict[str, Any]:
        return {"method": "GET", "path": API + path(w), "headers": bearer(getattr(w, token))}
    return send


MALFORMED_PEM = ("-----BEGIN CERTIFICATE REQUEST-----\nMIIB!!not*base64??\n"
                 "-----END CERTIFICATE REQUEST-----\n")
PRIVATE_KEY_PEM = new_key().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption()).decode()
TEN_MB = json.dumps({"common_name": "www.example.com", "csr": "A" * (10 * 1024 * 1024)})

CASES: dict[str, Case] = {
    # CSR problems (app.pki.csr via intake.parse_csr_input)
    "malformed PEM": Case(post({"csr": MALFORMED_PEM}), 422, "request.rejected", ["csr.invalid"]),
    "DER garbage in a PEM wrapper": Case(post({"csr": pem_wrap(os.urandom(400))}), 422,
                                         "request.rejected", ["csr.invalid"]),
    "CSR with a bad signature": Case(post({"csr": csr_with_bad_signature()}), 422,
                                     "request.rejected", ["csr.invalid"]),
    "RSA-1024 CSR": Case(post({"csr": make_csr(key=new_key("rsa-1024"))}), 422,
                         "request.rejected", ["csr.weak_key"]),
    "DSA CSR": Case(post({"csr": make_csr(key=new_key("dsa"))}), 422, "request.rejected",
                    ["csr.unsupported_key"]),
    "unsupported curve": Case(post({"csr": make_csr(key=new_key("secp256k1"))}), 422,
                              "request.rejected", ["csr.unsupported_key"]),
    "CA:TRUE requested": Case(post({"csr": make_csr(ca=True)}), 422, "request.rejected",
                              ["csr.ca_requested"]),
    "a private key instead of a CSR": Case(post({"csr": PRIVATE_KEY_PEM}), 422,
                                           "request.rejected", ["csr.invalid"]),
    "CSR names differ from the body's": Case(
        post({"csr": make_csr(), "common_name": "api.example.com",
              "sans": ["www.example.com", "other.example.com"]}),
        422, "request.rejected", ["csr.names_mismatch", "csr.names_mismatch"]),
    "algorithm with a CSR": Case(post({"csr": make_csr(), "algorithm": "ec-256",
                                       "subject": {"organization": "X"}}),
                                 422, "request.invalid",
                                 ["request.not_with_csr", "request.not_with_csr"]),
    # transport and shape
    "a 10 MB body": Case(post(raw=TEN_MB), 413, "request.too_large"),
    "sans as a string and validity_days as 'ten'": Case(
        post({"common_name": "www.example.com", "sans": "www.example.com",
              "validity_days": "ten"}),
        422, "request.invalid", ["request.invalid_type", "request.invalid_type"]),
    "validity_days true": Case(post({"common_name": "www.example.com", "validity_days": True}),
                               422, "request.invalid", ["request.invalid_type"]),
    "a SAN that is not a string": Case(post({"common_name": "www.example.com",
                                             "sans": ["ok.example.com", 7]}),
                                       422, "request.invalid", ["request.invalid_type"]),
    "unknown fields": Case(post({"common_name": "www.example.com", "ttl": 5,
                                 "subject": {"organisation": "typo"}}),
                           422, "request.invalid",
                           ["request.unknown_field", "request.unknown_field"]),
    "missing common_name": Case(post({"sans": ["www.example.com"]}), 422, "request.invalid",
                                ["request.missing_field"]),
    "a JSON array": Case(post([{"common_name": "www.example.com"}]), 422, "request.invalid",
                         ["request.invalid_type"]),
    "non-JSON body": Case(post(raw="common_name=www.example.com"), 400, "request.bad_request"),
    "NaN in JSON": Case(post(raw='{"common_name": "www.example.com", "validity_days": NaN}'),
                        400, "request.bad_request"),
    "wrong content type": Case(post(raw="common_name=www.example.com",
                                     content_type="application/x-www-form-urlencoded"),
                               415, "request.unsupported_media_type"),
    "an over-long Idempotency-Key": Case(post({"common_name": "www.example.com"},
                                              headers={"Idempotency-Key": "k" * 256}),
                                         400, "idempotency.invalid_key"),
    # authentication and ownership
    "token of a disabled courier": Case(post({"common_name": "www.example.com"},
                                             token="disabled_token"), 401, "auth.revoked"),
    "forged token": Case(lambda w: {"method": "GET", "path": f"{API}/orders/{uuid.uuid4()}",
                                    "headers": bearer(w.token[:-4] + "AAAA")},
                         401, "auth.invalid_token"),
    "no token": Case(lambda w: {"method": "POST", "path": f"{API}/certificates",
                                "json": {"common_name": "www.example.com"}},
                     401, "auth.missing_token"),
    "another courier's order": Case(get(lambda w: f"/orders/{w.other_order}"), 404,
                                    "order.not_found"),
    "an order id that is no uuid": Case(get(lambda w: "/orders/not-a-uuid"), 404,
                                        "order.not_found"),
    "an unknown certificate": Case(get(lambda w: f"/certificates/{uuid.uuid4()}"), 404,
                                   "certificate.not_found"),
    "an unknown API path": Case(get(lambda w: "/nothing-here"), 404, "not_found"),
    "a method the path does not allow": Case(
        lambda w: {"method": "DELETE", "path": f"{API}/orders/{w.other_order}",
                   "headers": bearer(w.token)}, 405, "method_not_allowed"),
    "auth body of the wrong shape": Case(post({"uuid": 5}, path="/auth"), 422,
                                         "request.invalid",
                                         ["request.invalid_type", "request.missing_field",
                                          "request.missing_field"]),
    # domain scope and policy (the wizard's rules)
    "name outside the courier's scope": Case(
        post({"common_name": "www.example.com", "sans": ["mail.example.net"]}),
        422, "request.rejected", ["name.outside_scope"]),
    "name under no active domain": Case(
        post({"common_name": "www.unregistered.io"}), 422, "request.rejected",
        ["name.not_registered", "name.outside_scope"]),
    "hard policy violation": Case(
        post({"common_name": "forbidden.example.com", "validity_days": 90}),
        422, "request.rejected", ["policy.enforce_max_validity"], hard_alerts=1),
    "weak key under a minimum key size": Case(
        post({"csr": make_csr("strong.example.com", ("strong.example.com",))}),
        422, "request.rejected", ["policy.enforce_minimum_key_size"], hard_alerts=1),
    "wrong digest under an enforced digest": Case(
        post({"common_name": "digest.example.com", "digest": "sha256"}),
        422, "request.rejected", ["policy.enforce_digest"], hard_alerts=1),
    "out-of-range values": Case(
        post({"common_name": "www.example.com", "validity_days": 0, "digest": "md5",
              "algorithm": "rsa-1024", "key_usage": ["everything"]}),
        422, "request.rejected",
        ["algorithm.unknown", "digest.unknown", "validity.out_of_range", "key_usage.unknown"]),
    "platform key without an encryption key": Case(
        post({"common_name": "www.example.com"}, token="keyless_token"),
        422, "request.rejected", ["courier.no_encryption_key"]),
}


def _check(app, client, world: World, case: Case) -> None:
    kwargs = case.send(world)
    path = kwargs.pop("path")
    before = row_counts(app)
    response = client.open(path, **kwargs)
    assert response.status_code == case.status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "<html" not in text.lower()
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == case.code, error
    assert error["message"] and isinstance(error["message"], str)
    assert [d["code"] for d in error["details"]] == case.details, error["details"]
    for d in error["details"]:
        assert set(d) == {"field", "code", "message", "policy"} and d["message"]
    after = row_counts(app)
    alerts = after.pop("CertificateAlert") - before.pop("CertificateAlert")
    assert after == before
    assert alerts == case.hard_alerts
    if case.hard_alerts:
        with app.app_context():
            newest = db.session.scalar(select(CertificateAlert.type)
                                       .order_by(CertificateAlert.id.desc()).limit(1))
        assert newest == "policy_hard_fail"
        assert all(d["policy"] for d in error["details"])
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if response.status_code == 405:
        assert "GET" in response.headers["Allow"]


def test_bad_input_gets_a_json_error_and_writes_nothing(app, client, world, subtests) -> None:
    """One world for the whole battery (making couriers is slow: scrypt); one subtest per
    case, each checking the row counts around its own request."""
    for name, case in CASES.items():
        with subtests.test(msg=name):
            _check(app, client, world, case)


def test_every_violation_is_reported_at_once(client, world) -> None:
    response = client.post(f"{API}/certificates", headers=bearer(world.token), json={
        "common_name": "forbidden.example.com", "sans": ["x.example.org", "bad name!"],
        "validity_days": 90, "digest": "sha1"})
    assert response.status_code == 422
    codes = [d["code"] for d in response.get_json()["error"]["details"]]
    assert {"name.invalid", "name.outside_scope", "digest.unknown",
            "policy.enforce_max_validity"} <= set(codes), codes


def test_a_repeated_hard_failure_with_one_idempotency_key_alerts_once(app, client,
                                                                       world) -> None:
    for _ in range(3):
        response = client.post(f"{API}/certificates", json={
            "common_name": "forbidden.example.com", "validity_days": 90},
            headers=bearer(world.token, **{"Idempotency-Key": "same"}))
        assert response.status_code == 422
    assert row_counts(app)["CertificateAlert"] == 1
