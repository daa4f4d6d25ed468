"""The ACME server's protocol through signed requests (RFC 8555) and the worker."""
from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from app.models import Order
from app.pki.csr import build_csr
from app.pki.keys import generate_private_key
from tests.acme.helpers import Client, problem_type
from tests.builders import count


def csr_der(*names: str, algorithm: str = "ec-256") -> str:
    key = generate_private_key(algorithm)
    der = build_csr(key, names[0], names).public_bytes(Encoding.DER)
    return base64.urlsafe_b64encode(der).decode().rstrip("=")


def test_directory_requires_eab_and_lists_resources(app, world) -> None:
    body = app.test_client().get(f"/acme/{world.server_id}/directory").get_json()
    assert body["meta"]["externalAccountRequired"] is True
    for name in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange",
                 "renewalInfo"):
        assert body[name].startswith(f"http://localhost/acme/{world.server_id}/")


def test_full_issuance_via_bindings(app, world, acme_client: Client, jobs) -> None:
    response = acme_client.new_order("www.example.com", "api.example.com")
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "ready"
    for url in order["authorizations"]:
        authz = acme_client.post(url, None).get_json()
        assert authz["status"] == "valid"
    finalized = acme_client.post(order["finalize"], {
        "csr": csr_der("www.example.com", "api.example.com")})
    assert finalized.status_code == 200, finalized.get_json()
    assert finalized.get_json()["status"] == "processing"
    assert finalized.headers["Retry-After"] == "1"
    jobs()
    done = acme_client.post(response.headers["Location"], None).get_json()
    assert done["status"] == "valid", done
    chain = acme_client.post(done["certificate"], None)
    assert chain.mimetype == "application/pem-certificate-chain"
    certs = x509.load_pem_x509_certificates(chain.data)
    assert len(certs) >= 2
    with app.app_context():
        platform = Order.query.one()
        assert platform.pathway == "acme_client"
        assert platform.requested_by_kind == "acme"
        assert str(platform.requested_by_acme_account_id) == world.account_id


def test_name_outside_bindings_is_rejected_identifier(app, world, acme_client) -> None:
    response = acme_client.new_order("www.other.net")
    assert problem_type(response) == "rejectedIdentifier"
    body = response.get_json()
    assert {v["code"] for v in body["violations"]} == {"name.outside_scope"}
    assert body["subproblems"][0]["identifier"]["value"] == "www.other.net"


def test_exact_binding_refuses_subdomain_and_wildcard(app, world, acme_client) -> None:
    assert problem_type(acme_client.new_order("www.example.org")) == "rejectedIdentifier"
    assert problem_type(acme_client.new_order("*.example.com")) == "rejectedIdentifier"
    assert acme_client.new_order("example.org").status_code == 201
    assert count(app, Order) == 0
