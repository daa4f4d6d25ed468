"""The courier API and providers: ``provider_id`` (default Local PKI), ``issuer_id`` only
with the Local PKI (else 422 ``provider.issuer_mismatch``), fields an ACME CA decides
refused rather than dropped — and, against pebble (interop), an ACME order that completes
with a platform-made key and with the courier's CSR."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Order
from app.services import providers
from app.services.jwe import decrypt_with_private_key
from tests.api.conftest import (
    API,
    CourierCreds,
    bearer,
    make_courier,
    make_csr,
    new_key,
    row_counts,
    token_for,
)
from tests.builders import LOCAL_PKI_ID
from tests.conftest import run_jobs_until


def _submit(client: FlaskClient, token: str, body: dict):
    return client.post(f"{API}/certificates", json=body, headers=bearer(token))


@pytest.fixture
def acme_id(app: Flask, worker_key: None, pki: str) -> str:
    with app.app_context():
        provider_id = str(providers.create_provider("acme", "Public CA", {
            "directory_url": "https://127.0.0.1:14000/dir", "challenge": "http-01"}, {}).id)
        db.session.remove()
    return provider_id


def _order(app: Flask, order_id: str) -> Order:
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        db.session.expunge(order)
        return order


def test_the_local_pki_is_the_default_provider(app: Flask, client: FlaskClient,
                                               token: str) -> None:
    response = _submit(client, token, {"common_name": "www.example.com"})
    assert response.status_code == 202, response.get_json()
    order = _order(app, response.get_json()["order_id"])
    assert order.provider_id == LOCAL_PKI_ID and order.type == "local_pki"
    shown = client.get(f"{API}/orders/{order.id}", headers=bearer(token)).get_json()
    assert shown["provider_id"] == str(LOCAL_PKI_ID) and shown["next_check_at"] is None


def test_issuer_id_with_another_provider_is_422_issuer_mismatch(
        app: Flask, client: FlaskClient, token: str, pki: str, acme_id: str) -> None:
    before = row_counts(app)
    response = _submit(client, token, {"common_name": "www.example.com",
                                       "provider_id": acme_id, "issuer_id": pki})
    assert response.status_code == 422
    codes = [d["code"] for d in response.get_json()["error"]["details"]]
    assert codes == ["provider.issuer_mismatch"]
    assert row_counts(app) == before


def test_fields_an_acme_ca_decides_are_refused(app: Flask, client: FlaskClient, token: str,
                                              acme_id: str) -> None:
    before = row_counts(app)
    response = _submit(client, token, {"common_name": "www.example.com",
                                       "provider_id": acme_id, "validity_days": 30,
                                       "key_usage": ["digitalSignature"],
                                       "subject": {"organization": "Acme"}})
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert {(d["code"], d["field"]) for d in details} == {
        ("provider.field_not_honoured", "validity_days"),
        ("provider.field_not_honoured", "key_usage"),
        ("provider.field_not_honoured", "subject")}
    assert row_counts(app) == before


def test_acme_refuses_email_names(client: FlaskClient, token: str, acme_id: str) -> None:
    response = _submit(client, token, {"common_name": "www.example.com",
                                       "sans": ["ops@example.com"], "provider_id": acme_id})
    assert response.status_code == 422
    assert [d["code"] for d in response.get_json()["error"]["details"]] == \
        ["provider.unsupported_name"]


@pytest.mark.parametrize("provider_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_provider_is_unavailable(client: FlaskClient, token: str,
                                         provider_id: str) -> None:
    response = _submit(client, token, {"common_name": "www.example.com",
                                       "provider_id": provider_id})
    assert response.status_code == 422
    assert [d["code"] for d in response.get_json()["error"]["details"]] == \
        ["provider.unavailable"]


def test_an_inactive_provider_is_unavailable(app: Flask, client: FlaskClient, token: str,
                                             acme_id: str) -> None:
    with app.app_context():
        providers.set_active(providers.get_provider(acme_id), False)
    response = _submit(client, token, {"common_name": "www.example.com",
                                       "provider_id": acme_id})
    assert [d["code"] for d in response.get_json()["error"]["details"]] == \
        ["provider.unavailable"]


# ---- against pebble --------------------------------------------------------------------------

@pytest.fixture
def acme_courier(app: Flask, worker_key: None, pebble) -> tuple[CourierCreds, str]:
    from tests.builders import add_domain
    from tests.interop.fixtures import create_acme_provider

    add_domain(app, "example.test")
    return make_courier(app, "acme-courier", domains=("example.test",)), \
        create_acme_provider(app, pebble)


def _settled(app: Flask, order_id: str) -> bool:
    with app.app_context():
        status = db.session.get(Order, uuid.UUID(order_id)).status
        db.session.remove()
    return status in ("complete", "failed")


@pytest.mark.interop
def test_acme_order_with_a_platform_made_key_completes(app: Flask, client: FlaskClient,
                                                       acme_courier, pebble,
                                                       tmp_path: Path) -> None:
    from cryptography import x509

    from app.pki.keys import load_private_key_pem, same_public_key
    from tests.providers.acme_helpers import certificate_of, verify_chain

    creds, provider_id = acme_courier
    token = token_for(client, creds)
    accepted = _submit(client, token, {"common_name": "courier.example.test",
                                       "sans": ["courier.example.test", "cdn.example.test"],
                                       "provider_id": provider_id, "algorithm": "ec-384"})
    assert accepted.status_code == 202, accepted.get_json()
    order_id = accepted.get_json()["order_id"]
    waiting = client.get(f"{API}/orders/{order_id}", headers=bearer(token)).get_json()
    assert waiting["provider_id"] == provider_id and waiting["status"] == "pending"
    run_jobs_until(app, lambda: _settled(app, order_id), timeout=90)
    done = client.get(f"{API}/orders/{order_id}", headers=bearer(token)).get_json()
    assert done["status"] == "complete", done["error"]
    assert done["key_source"] == "platform" and done["next_check_at"] is None
    key = load_private_key_pem(decrypt_with_private_key(done["private_key_jwe"],
                                                        creds.private_key_pem))
    cert = x509.load_pem_x509_certificate(done["certificate_pem"].encode())
    assert same_public_key(cert.public_key(), key)
    verify_chain(certificate_of(app, uuid.UUID(order_id)), pebble.root_pem(), tmp_path)


@pytest.mark.interop
def test_acme_order_with_the_couriers_csr_completes(app: Flask, client: FlaskClient,
                                                    acme_courier, pebble,
                                                    tmp_path: Path) -> None:
    from cryptography import x509

    from app.pki.keys import same_public_key
    from tests.providers.acme_helpers import certificate_of, verify_chain

    creds, provider_id = acme_courier
    token = token_for(client, creds)
    key = new_key("ec-256")
    csr = make_csr("csr.example.test", ("csr.example.test", "www.csr.example.test"), key=key,
                   organization="Wishful Org")
    accepted = _submit(client, token, {"csr": csr, "provider_id": provider_id})
    assert accepted.status_code == 202, accepted.get_json()
    order_id = accepted.get_json()["order_id"]
    run_jobs_until(app, lambda: _settled(app, order_id), timeout=90)
    done = client.get(f"{API}/orders/{order_id}", headers=bearer(token)).get_json()
    assert done["status"] == "complete", done["error"]
    assert done["key_source"] == "csr" and "private_key_jwe" not in done
    cert = x509.load_pem_x509_certificate(done["certificate_pem"].encode())
    assert same_public_key(cert.public_key(), key)
    names = cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sorted(names) == ["csr.example.test", "www.csr.example.test"]
    verify_chain(certificate_of(app, uuid.UUID(order_id)), pebble.root_pem(), tmp_path)


def test_what_digicert_and_globalsign_decide_is_refused_the_rest_taken(
        app: Flask, client: FlaskClient, token: str, pki: str, worker_key: None, digicert,
        globalsign) -> None:
    """Each commercial provider declares what it decides (``decides``): asked for
    explicitly through the API, those fields are refused; the ones it honours pass."""
    from app.domain.providers import DIGICERT_DECIDES, GLOBALSIGN_DECIDES
    from app.providers.digicert import DigiCertProvider
    from app.providers.globalsign import GlobalSignProvider
    from tests.standins.fixtures import create_digicert_provider, create_globalsign_provider

    assert DigiCertProvider.decides == DIGICERT_DECIDES
    assert GlobalSignProvider.decides == GLOBALSIGN_DECIDES
    dc = create_digicert_provider(app, digicert)
    gs = create_globalsign_provider(app, globalsign)
    before = row_counts(app)
    asked = {"common_name": "www.example.com", "validity_days": 30, "digest": "sha384",
             "key_usage": ["digitalSignature"], "subject": {"organization": "Acme"}}
    refused = _submit(client, token, asked | {"provider_id": dc})
    assert refused.status_code == 422
    assert {(d["code"], d["field"]) for d in refused.get_json()["error"]["details"]} == {
        ("provider.field_not_honoured", "key_usage"),
        ("provider.field_not_honoured", "subject")}
    refused = _submit(client, token, asked | {"provider_id": gs})
    assert {(d["code"], d["field"]) for d in refused.get_json()["error"]["details"]} == {
        ("provider.field_not_honoured", "key_usage")}
    ip = _submit(client, token, {"common_name": "www.example.com", "sans": ["192.0.2.1"],
                                 "provider_id": dc})
    assert "provider.unsupported_name" in [d["code"] for d in ip.get_json()["error"]["details"]]
    assert row_counts(app) == before
    taken = _submit(client, token, {"common_name": "www.example.com", "validity_days": 30,
                                    "digest": "sha384", "provider_id": dc})
    assert taken.status_code == 202, taken.get_json()
