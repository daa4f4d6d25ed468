"""POST /api/v1/courier/certificates/<id>/renew: the same intake and gate as a new request,
under ``certificate.renew``, linked to the original order and certificate."""
from __future__ import annotations

import uuid

from cryptography import x509

from app.extensions import db
from app.models import Certificate, Order
from tests.api.conftest import (
    API,
    bearer,
    make_courier,
    make_csr,
    new_key,
    row_counts,
    token_for,
)
from tests.builders import add_policy


def _issue(client, jobs, token, body) -> dict:
    response = client.post(f"{API}/certificates", json=body, headers=bearer(token))
    assert response.status_code == 202, response.get_json()
    jobs()
    order = client.get(response.get_json()["status_url"], headers=bearer(token)).get_json()
    assert order["status"] == "complete", order
    return order


def _renew(client, token, certificate_id, body=None):
    return client.post(f"{API}/certificates/{certificate_id}/renew", json=body,
                       headers=bearer(token)) if body is not None else \
        client.post(f"{API}/certificates/{certificate_id}/renew", headers=bearer(token))


def _public_numbers(pem: str):
    return x509.load_pem_x509_certificate(pem.encode()).public_key().public_numbers()


def test_a_platform_key_renewal_makes_a_linked_order_with_a_new_key(app, client, jobs,
                                                                    courier, token) -> None:
    first = _issue(client, jobs, token, {"common_name": "svc.example.com",
                                         "validity_days": 90})
    response = _renew(client, token, first["certificate_id"])
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert set(body) >= {"order_id", "status", "status_url"} and body["status"] == "pending"
    assert response.headers["Location"] == body["status_url"]
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(body["order_id"]))
        assert order.pathway == "courier" and order.is_renewal
        assert str(order.renews_order_id) == first["order_id"]
        assert str(order.renews_certificate_id) == first["certificate_id"]
        assert order.request["action"] == "certificate.renew"
        assert order.request["validity_days"] == 90
    jobs()
    renewed = client.get(body["status_url"], headers=bearer(token)).get_json()
    assert renewed["status"] == "complete", renewed
    assert renewed["certificate_id"] != first["certificate_id"]
    assert _public_numbers(renewed["certificate_pem"]) != _public_numbers(
        first["certificate_pem"])                      # a platform-made key is always new
    assert renewed["private_key_jwe"]
    # The predecessor stays valid (the box was not ticked).
    old = client.get(f"{API}/certificates/{first['certificate_id']}", headers=bearer(token))
    assert old.get_json()["status"] == "active"

    again = _renew(client, token, first["certificate_id"], {})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "renewal.exists"


def test_a_csr_order_renews_only_with_a_new_csr(app, client, jobs, courier, token) -> None:
    first = _issue(client, jobs, token, {"csr": make_csr("www.example.com",
                                                         ("www.example.com",))})
    before = row_counts(app)
    refused = _renew(client, token, first["certificate_id"], {})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["code"] == "renewal.csr_required"
    assert row_counts(app) == before

    bad = _renew(client, token, first["certificate_id"], {"csr": "not a csr"})
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["code"] == \
        "csr.invalid"
    shape = _renew(client, token, first["certificate_id"], {"csr": 5, "colour": "red"})
    assert shape.status_code == 422
    assert {d["code"] for d in shape.get_json()["error"]["details"]} == \
        {"request.invalid_type", "request.unknown_field"}
    assert row_counts(app) == before

    key = new_key("ec-256")
    response = _renew(client, token, first["certificate_id"],
                      {"csr": make_csr("www.example.com", ("www.example.com",), key=key)})
    assert response.status_code == 202, response.get_json()
    jobs()
    renewed = client.get(response.get_json()["status_url"], headers=bearer(token)).get_json()
    assert renewed["status"] == "complete" and renewed["key_source"] == "csr"
    assert _public_numbers(renewed["certificate_pem"]) == key.public_key().public_numbers()


def test_a_renewal_outside_the_couriers_scope_is_refused_like_a_new_request(
        app, client, jobs, pki) -> None:
    from app.services import couriers
    from app.services import domains as domain_service

    creds = make_courier(app, "shrinking", domains=("example.com", "example.net"))
    token = token_for(client, creds)
    first = _issue(client, jobs, token, {"common_name": "api.example.net"})
    with app.app_context():
        courier = couriers.get_courier(creds.id)
        couriers.update_courier(courier, name=courier.name,
                                domain_ids=[domain_service.find_domain("example.com").id],
                                public_key_pem=courier.encryption_public_key_pem,
                                enabled=True)
    new = client.post(f"{API}/certificates", json={"common_name": "api.example.net"},
                      headers=bearer(token))
    before = row_counts(app)
    response = _renew(client, token, first["certificate_id"], {})
    assert response.status_code == new.status_code == 422
    codes = [d["code"] for d in response.get_json()["error"]["details"]]
    assert codes == [d["code"] for d in new.get_json()["error"]["details"]] == \
        ["name.outside_scope"]
    after = row_counts(app)
    assert {k: v for k, v in after.items() if k != "CertificateAlert"} == \
        {k: v for k, v in before.items() if k != "CertificateAlert"}


def test_renew_policies_judge_renewals_only(app, client, jobs, courier, token) -> None:
    first = _issue(client, jobs, token, {"common_name": "short.example.com",
                                         "validity_days": 200})
    add_policy(app, "Short renewals", ["*.example.com"],
               [{"action": "enforce_max_validity", "fail": "hard",
                 "values": {"max_days": 100}}], actions=["certificate.renew"])
    # A new request is not judged by the renew-only policy …
    assert client.post(f"{API}/certificates", json={"common_name": "other.example.com",
                                                    "validity_days": 200},
                       headers=bearer(token)).status_code == 202
    # … the renewal is.
    response = _renew(client, token, first["certificate_id"], {})
    assert response.status_code == 422
    assert "Short renewals" in response.get_json()["error"]["details"][0]["message"]


def test_another_couriers_certificate_is_not_found(app, client, jobs, courier, token) -> None:
    first = _issue(client, jobs, token, {"common_name": "mine.example.com"})
    other = token_for(client, make_courier(app, "other"))
    assert _renew(client, other, first["certificate_id"], {}).status_code == 404
    assert _renew(client, token, str(uuid.uuid4()), {}).status_code == 404
    with app.app_context():
        assert db.session.query(Certificate).count() == 1
