"""POST /api/v1/courier/discovery/import: PEM or JSON bodies, keys refused, and every
response matches the OpenAPI document."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Certificate
from tests.api.conftest import API, bearer, make_courier, token_for
from tests.api.test_openapi import Contract
from tests.builders import add_domain
from tests.discovery.certs import key_pem, pem

PATH = "/api/v1/courier/discovery/import"


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Certificate.id)))


def test_import_through_the_api_matches_the_document(app, client, endpoints):
    pki = endpoints["pki"]
    leaf, key = pki.leaves["chain.example.test"]
    add_domain(app, "example.com")
    token = token_for(client, make_courier(app, "importer"))
    contract = Contract(client.get("/api/v1/openapi.json").get_json())

    as_pem = client.post(f"{API}/discovery/import", data=pem(leaf, pki.inter),
                         content_type="application/x-pem-file", headers=bearer(token))
    assert as_pem.status_code == 200, as_pem.get_json()
    contract.check(PATH, "post", as_pem)
    assert as_pem.get_json()["counts"] == {"added": 1, "known": 0, "chain": 1, "refused": 0}

    as_json = client.post(f"{API}/discovery/import", headers=bearer(token), json={
        "pem": pem(leaf, pki.leaves["expired.example.test"][0]).decode()})
    contract.check(PATH, "post", as_json)
    assert [r["status"] for r in as_json.get_json()["results"]] == ["known", "added"]
    assert _count(app) == 2

    keyed = client.post(f"{API}/discovery/import", headers=bearer(token), json={
        "pem": (pem(pki.leaves["self-signed.example.test"][0]) + key_pem(key)).decode()})
    assert keyed.status_code == 422
    assert keyed.get_json()["error"]["code"] == "discovery.private_key"
    contract.check(PATH, "post", keyed)
    garbage = client.post(f"{API}/discovery/import", data=b"hello",
                          content_type="text/plain", headers=bearer(token))
    assert garbage.status_code == 422
    assert garbage.get_json()["error"]["code"] == "discovery.not_certificates"
    contract.check(PATH, "post", garbage)
    wrong_shape = client.post(f"{API}/discovery/import", headers=bearer(token),
                              json={"pem": 5})
    assert wrong_shape.status_code == 422
    contract.check(PATH, "post", wrong_shape)
    contract.check(PATH, "post", client.post(f"{API}/discovery/import", json={"pem": "x"}))
    assert _count(app) == 2
