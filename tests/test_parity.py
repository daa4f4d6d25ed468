"""One pipeline: the same bad requests through the wizard, the CSR upload, the couriers'
API and the ACME server get the same violation codes, and none of them creates an order."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from app.models import Order
from app.pki.csr import build_csr
from app.pki.keys import generate_private_key
from tests.acme.helpers import Client, b64, make_account, make_acme_server
from tests.api.conftest import API, bearer, make_courier, token_for
from tests.builders import add_domain, add_policy, count, issuing_ca
from tests.conftest import login, make_user, post

USER = "parity@example.com"
CODE = re.compile(r'data-code="([a-z_.]+)"')


@dataclass(frozen=True)
class Case:
    id: str
    cn: str
    expected: set[str]
    policies: list[tuple[str, list[dict]]] = field(default_factory=list)
    algorithm: str = "ec-256"
    digest: str = "sha256"


CASES = [
    Case("name outside the active domains", "www.nowhere.net", {"name.not_registered"}),
    Case("name outside the requester's scope", "www.other.org", {"name.outside_scope"}),
    Case("hard policy violation", "*.example.com", {"policy.disable_wildcard"},
         policies=[("No wildcards", [{"action": "disable_wildcard", "fail": "hard"}])]),
    Case("weak key under a minimum key size", "www.example.com",
         {"policy.enforce_minimum_key_size"}, algorithm="rsa-2048",
         policies=[("Strong keys", [{"action": "enforce_minimum_key_size", "fail": "hard",
                                     "values": {"minimum_bits": 3072}}])]),
    Case("wrong digest under an enforced digest", "www.example.com", {"policy.enforce_digest"},
         policies=[("SHA-384", [{"action": "enforce_digest", "fail": "hard",
                                 "values": {"digest": "sha384"}}])]),
]
CRYPTO = {"validity_days": "90", "key_usage": ["digitalSignature"],
          "extended_key_usage": ["serverAuth"]}


@pytest.fixture
def world(app, jobs):
    add_domain(app, "example.com")
    add_domain(app, "other.org")
    issuer = issuing_ca(app, jobs)
    make_user(app, USER, role="user", domains=("example.com",))
    return issuer


def _hard_codes(codes: list[str]) -> set[str]:
    # Warnings (soft) are not part of the comparison; every case here is a hard refusal.
    return set(codes)


def _through_wizard(app, case: Case, issuer: str) -> set[str]:
    client = app.test_client()
    login(client, USER)
    draft = re.search(r"/request/([0-9a-f-]{36})/", client.get("/request/")
                      .headers["Location"]).group(1)
    response = post(client, f"/request/{draft}/names", {"common_name": case.cn, "nav": "next"})
    if response.status_code == 303:
        post(client, f"/request/{draft}/subject", {"nav": "next"})
        response = post(client, f"/request/{draft}/crypto", {
            "nav": "next", "issuer_id": issuer, "algorithm": case.algorithm,
            "digest": case.digest, **CRYPTO})
    assert response.status_code == 422, case.id
    return _hard_codes(CODE.findall(response.get_data(as_text=True)))


def _csr(case: Case) -> str:
    key = generate_private_key(case.algorithm)
    return build_csr(key, case.cn, (case.cn,)).public_bytes(Encoding.PEM).decode()


def _through_csr_upload(app, case: Case, issuer: str) -> set[str]:
    client = app.test_client()
    login(client, USER)
    response = post(client, "/request/csr", {
        "csr": _csr(case), "options": "1", "nav": "submit", "issuer_id": issuer,
        "digest": case.digest, **CRYPTO})
    assert response.status_code == 422, case.id
    return _hard_codes(CODE.findall(response.get_data(as_text=True)))


def _through_api(app, case: Case, courier) -> set[str]:
    client = app.test_client()
    token = token_for(client, courier)
    response = client.post(f"{API}/certificates", headers=bearer(token), json={
        "csr": _csr(case), "digest": case.digest, "validity_days": 90,
        "key_usage": ["digitalSignature"], "extended_key_usage": ["serverAuth"]})
    assert response.status_code == 422, (case.id, response.get_json())
    return {d["code"] for d in response.get_json()["error"]["details"]}


def _through_acme(app, case: Case, issuer: str) -> set[str]:
    """newOrder judges the names (and what the server fixes: digest, validity); finalize
    the CSR's key. Either refusal carries the platform's codes in ``violations``."""
    server = make_acme_server(app, issuer, name="Parity ACME")
    _, kid, hmac_key = make_account(app, server, "parity", ["example.com:wildcard"])
    client = Client(app.test_client(), server)
    assert client.register(kid, hmac_key).status_code == 201
    response = client.new_order(case.cn)
    if response.status_code == 201:
        key = generate_private_key(case.algorithm)
        csr = build_csr(key, case.cn, (case.cn,)).public_bytes(Encoding.DER)
        response = client.post(response.get_json()["finalize"], {"csr": b64(csr)})
    assert response.mimetype == "application/problem+json", (case.id, response.get_json())
    return {v["code"] for v in response.get_json()["violations"]}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_channel_reports_the_same_violation(app, world, case: Case) -> None:
    for name, rules in case.policies:
        add_policy(app, name, ["*.example.com"], rules)
    courier = make_courier(app, "parity-courier", domains=("example.com",))
    codes = {
        "wizard": _through_wizard(app, case, world),
        "csr upload": _through_csr_upload(app, case, world),
        "courier api": _through_api(app, case, courier),
        "acme": _through_acme(app, case, world),
    }
    for channel, found in codes.items():
        assert case.expected <= found, (channel, found)
    # Beyond the expected code, the channels agree with each other too.
    assert codes["wizard"] == codes["csr upload"] == codes["courier api"] == codes["acme"], \
        codes
    assert count(app, Order) == 0
