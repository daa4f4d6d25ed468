"""The OpenAPI document is valid, covers every route, and tells the truth: real responses
of every status validate against the schema it documents for them, and the request
schemas accept and refuse the same bodies as the API's own shape checks."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app.blueprints.api.schemas import ShapeInvalid, check_body, check_certificate_body
from tests.api.conftest import API, bearer, make_courier, make_csr, token_for
from tests.builders import add_policy

DOC_URI = "urn:courier-api:openapi"


@pytest.fixture
def doc(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Contract:
    """Validates a real response against what the document promises for its path,
    method and status (falling back to ``default``)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry = Registry().with_resource(
            DOC_URI, Resource(contents=doc, specification=DRAFT202012))
        self.seen: set[tuple[str, str, str]] = set()

    def _resolve(self, node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
        while "$ref" in node:
            pointer = node["$ref"]
            target: Any = self.doc
            for part in pointer.removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node, pointer

    def schema_validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": DOC_URI + pointer}, registry=self.registry,
                                    format_checker=FormatChecker())

    def check(self, path: str, method: str, response: Any) -> None:
        operation = self.doc["paths"][path][method]
        status = str(response.status_code)
        key = status if status in operation["responses"] else "default"
        assert key in operation["responses"], (path, method, status)
        documented, pointer = self._resolve(
            operation["responses"][key], _pointer("paths", path, method, "responses", key))
        assert response.mimetype == "application/json"
        schema_pointer = pointer + "/content/application~1json/schema"
        errors = list(self.schema_validator(schema_pointer).iter_errors(response.get_json()))
        assert not errors, (path, method, status, [e.message for e in errors])
        for header in documented.get("headers", {}):
            if header != "Idempotent-Replayed":
                assert header in response.headers, (path, method, status, header)
        self.seen.add((path, method, key))

    def request_validator(self, path: str, method: str) -> Draft202012Validator:
        return self.schema_validator(_pointer("paths", path, method, "requestBody", "content",
                                              "application/json", "schema"))


def test_the_document_is_valid_openapi(doc) -> None:
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A token from /api/v1/courier/auth."}


def test_every_api_route_is_documented_and_nothing_else(app, doc) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented


def test_real_responses_match_the_document(app, client, jobs, courier, token, doc) -> None:
    contract = Contract(doc)
    auth, certs = "/api/v1/courier/auth", "/api/v1/courier/certificates"
    order_path, cert_path = "/api/v1/courier/orders/{order_id}", \
        "/api/v1/courier/certificates/{certificate_id}"

    contract.check(auth, "post", client.post(f"{API}/auth", json=courier.auth_body()))
    contract.check(auth, "post", client.post(f"{API}/auth", json={
        **courier.auth_body(), "client_secret": "wrong"}))
    contract.check(auth, "post", client.post(f"{API}/auth", json={"uuid": courier.id}))
    contract.check(auth, "post", client.post(f"{API}/auth", data="x",
                                             content_type="text/plain"))

    add_policy(app, "Soft digest", ["*.example.com"], [
        {"action": "enforce_digest", "fail": "soft", "values": {"digest": "sha384"}}])
    accepted = client.post(f"{API}/certificates", json={"csr": make_csr(), "digest": "sha256"},
                           headers=bearer(token, **{"Idempotency-Key": "openapi-1"}))
    assert accepted.status_code == 202 and accepted.get_json()["warnings"]
    contract.check(certs, "post", accepted)
    replay = client.post(f"{API}/certificates", json={"csr": make_csr(), "digest": "sha256"},
                         headers=bearer(token, **{"Idempotency-Key": "openapi-1"}))
    contract.check(certs, "post", replay)  # 422 idempotency.key_reused (another CSR)
    contract.check(certs, "post", client.post(
        f"{API}/certificates", json={"common_name": "www.example.org"}, headers=bearer(token)))
    contract.check(certs, "post", client.post(
        f"{API}/certificates", json={"common_name": 1, "x": 2}, headers=bearer(token)))
    contract.check(certs, "post", client.post(
        f"{API}/certificates", data="{", content_type="application/json",
        headers=bearer(token)))
    contract.check(certs, "post", client.post(
        f"{API}/certificates", data="{}", content_type="text/plain", headers=bearer(token)))
    contract.check(certs, "post", client.post(
        f"{API}/certificates", data="[" + " " * (2 * 1024 * 1024) + "]",
        content_type="application/json", headers=bearer(token)))
    contract.check(certs, "post", client.post(f"{API}/certificates", json={}))

    order_id = accepted.get_json()["order_id"]
    contract.check(order_path, "get", client.get(f"{API}/orders/{order_id}",
                                                 headers=bearer(token)))
    jobs()
    complete = client.get(f"{API}/orders/{order_id}", headers=bearer(token))
    assert complete.get_json()["status"] == "complete"
    contract.check(order_path, "get", complete)
    contract.check(order_path, "get", client.get(f"{API}/orders/{uuid.uuid4()}",
                                                 headers=bearer(token)))
    contract.check(order_path, "get", client.delete(f"{API}/orders/{order_id}",
                                                    headers=bearer(token)))
    certificate_id = complete.get_json()["certificate_id"]
    contract.check(cert_path, "get", client.get(f"{API}/certificates/{certificate_id}",
                                                headers=bearer(token)))
    contract.check(cert_path, "get", client.get(f"{API}/certificates/{certificate_id}",
                                                headers=bearer("forged")))

    # The digest is named: the soft policy above would fill in SHA-384, which the P-256
    # issuing CA refuses (its curve signs with SHA-256 only).
    platform = client.post(f"{API}/certificates",
                           json={"common_name": "k.example.com", "digest": "sha256"},
                           headers=bearer(token))
    contract.check(certs, "post", platform)
    jobs()
    assert platform.status_code == 202, platform.get_json()
    with_key = client.get(platform.get_json()["status_url"], headers=bearer(token))
    assert "private_key_jwe" in with_key.get_json()
    contract.check(order_path, "get", with_key)

    saved = app.config["COURIER_RATE_LIMIT_PER_MINUTE"]
    app.config["COURIER_RATE_LIMIT_PER_MINUTE"] = 1
    try:
        limited = make_courier(app, "limited")
        limited_token = token_for(client, limited)
        for _ in range(4):
            response = client.get(f"{API}/orders/{uuid.uuid4()}",
                                  headers=bearer(limited_token))
            if response.status_code == 429:
                break
        assert response.status_code == 429
        contract.check(order_path, "get", response)
    finally:
        app.config["COURIER_RATE_LIMIT_PER_MINUTE"] = saved

    statuses = {(p.rsplit("/", 1)[-1], m, s) for p, m, s in contract.seen}
    assert {s for _, _, s in statuses} >= {"200", "202", "400", "401", "404", "413", "415",
                                           "422", "429", "default"}


VALID_BODIES = [
    {"common_name": "www.example.com"},
    {"common_name": "www.example.com", "sans": ["a.example.com", "10.0.0.1"],
     "subject": {"organization": "Acme", "country": "DE"}, "algorithm": "rsa-2048",
     "digest": "sha384", "validity_days": 90, "key_usage": ["digitalSignature"],
     "extended_key_usage": ["serverAuth", "clientAuth"], "issuer_id": "x"},
    {"csr": "-----BEGIN CERTIFICATE REQUEST-----..."},
    {"csr": "...", "common_name": "www.example.com", "sans": [], "validity_days": 1},
]
INVALID_BODIES = [
    [], "text", {}, {"sans": ["www.example.com"]}, {"common_name": 5},
    {"common_name": "a", "sans": "a"}, {"common_name": "a", "sans": [1]},
    {"common_name": "a", "validity_days": "ten"}, {"common_name": "a", "validity_days": 1.5},
    {"common_name": "a", "validity_days": True}, {"common_name": "a", "ttl": 1},
    {"common_name": "a", "subject": {"org": "x"}}, {"common_name": "a", "subject": "Acme"},
    {"csr": "x", "algorithm": "ec-256"}, {"csr": "x", "subject": {}}, {"csr": None},
]


def test_request_schemas_accept_and_refuse_what_the_api_does(doc) -> None:
    contract = Contract(doc)
    certificate = contract.request_validator("/api/v1/courier/certificates", "post")
    for body in VALID_BODIES:
        assert certificate.is_valid(body), body
        check_certificate_body(body)
    for body in INVALID_BODIES:
        assert not certificate.is_valid(body), body
        with pytest.raises(ShapeInvalid):
            check_certificate_body(body)
    auth = contract.request_validator("/api/v1/courier/auth", "post")
    from app.blueprints.api.schemas import AUTH

    good = {"uuid": "u", "client_id": "c", "client_secret": "s"}
    assert auth.is_valid(good) and check_body(good, AUTH) == good
    for body in ({"uuid": "u"}, {**good, "extra": 1}, {**good, "uuid": 1}):
        assert not auth.is_valid(body)
        with pytest.raises(ShapeInvalid):
            check_body(body, AUTH)
