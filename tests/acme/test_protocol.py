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


def _issue(acme_client: Client, jobs, *names: str, **order_extra) -> x509.Certificate:
    response = acme_client.new_order(*names, **order_extra)
    assert response.status_code == 201, response.get_json()
    acme_client.post(response.get_json()["finalize"], {"csr": csr_der(*names)})
    jobs()
    done = acme_client.post(response.headers["Location"], None).get_json()
    return x509.load_pem_x509_certificates(acme_client.post(done["certificate"], None).data)[0]


def _ari_id(cert: x509.Certificate) -> str:
    from app.domain.acme import cert_id

    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    return cert_id(aki.key_identifier, cert.serial_number)


def test_renewal_info_suggests_the_last_third_then_at_once_after_the_issuer_is_revoked(
        app, world, acme_client: Client, jobs) -> None:
    from datetime import UTC, datetime, timedelta

    from app.extensions import db
    from app.models import CertificateAuthority

    cert = _issue(acme_client, jobs, "www.example.com")
    url = f"/acme/{world.server_id}/renewal-info/{_ari_id(cert)}"
    response = app.test_client().get(url)
    assert response.status_code == 200 and int(response.headers["Retry-After"]) > 0
    window = response.get_json()["suggestedWindow"]
    start = datetime.fromisoformat(window["start"].replace("Z", "+00:00"))
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert abs(start - (cert.not_valid_before_utc + lifetime * 2 / 3)) < timedelta(seconds=2)
    with app.app_context():
        db.session.get(CertificateAuthority, __import__("uuid").UUID(world.issuer_id)) \
            .status = "revoked"
        db.session.commit()
    window = app.test_client().get(url).get_json()["suggestedWindow"]
    assert datetime.fromisoformat(window["start"].replace("Z", "+00:00")) <= datetime.now(UTC)
    assert problem_type(app.test_client().get(
        f"/acme/{world.server_id}/renewal-info/AAAA.AAAA")) == "malformed"
    assert problem_type(app.test_client().get(
        f"/acme/{world.server_id}/renewal-info/not-an-id")) == "malformed"


def test_replaces_records_the_renewed_certificate(app, world, acme_client: Client,
                                                   jobs) -> None:
    from app.extensions import db
    from app.models import AcmeOrder, Certificate

    first = _issue(acme_client, jobs, "www.example.com")
    second = _issue(acme_client, jobs, "www.example.com", replaces=_ari_id(first))
    assert second.serial_number != first.serial_number
    with app.app_context():
        renewed = Certificate.query.filter(Certificate.serial_hex.isnot(None)).all()
        old = next(c for c in renewed if int(c.serial_hex, 16) == first.serial_number)
        new_order = AcmeOrder.query.filter(AcmeOrder.replaces_certificate_id.isnot(None)).one()
        assert new_order.replaces_certificate_id == old.id
        renewal = db.session.get(Order, new_order.order_id)
        assert renewal.renews_certificate_id == old.id
        assert renewal.renews_order_id == old.order_id
    again = acme_client.new_order("www.example.com", replaces=_ari_id(first))
    assert problem_type(again) == "alreadyReplaced"


def test_existing_key_returns_its_account_and_key_change_moves_it(app, world,
                                                                  acme_client: Client) -> None:
    from tests.acme.helpers import ec_key, sign

    again = acme_client.register(world.eab_kid, world.eab_hmac)
    assert again.status_code == 200 and again.headers["Location"] == acme_client.kid
    new_key = ec_key()
    url = acme_client.url("key-change")
    inner = sign(new_key, {"jwk": new_key.public_key().to_json(), "url": url},
                 {"account": acme_client.kid,
                  "oldKey": acme_client.key.public_key().to_json()})
    assert acme_client.post(url, inner).status_code == 200
    old_key = acme_client.key
    acme_client.key = new_key
    assert acme_client.new_order("www.example.com").status_code == 201
    acme_client.key = old_key
    assert problem_type(acme_client.new_order("www.example.com")) == "malformed"


def test_revoke_by_the_certificate_key_and_twice(app, world, acme_client: Client,
                                                 jobs) -> None:
    import josepy as jose

    from app.models import Certificate

    key = generate_private_key("ec-256")
    response = acme_client.new_order("www.example.com")
    der = build_csr(key, "www.example.com", ("www.example.com",)).public_bytes(Encoding.DER)
    acme_client.post(response.get_json()["finalize"],
                     {"csr": base64.urlsafe_b64encode(der).decode().rstrip("=")})
    jobs()
    done = acme_client.post(response.headers["Location"], None).get_json()
    cert = x509.load_pem_x509_certificates(acme_client.post(done["certificate"], None).data)[0]
    cert_b64 = base64.urlsafe_b64encode(cert.public_bytes(Encoding.DER)).decode().rstrip("=")
    stranger = Client(app.test_client(), world.server_id)
    refused = stranger.post(stranger.url("revoke-cert"), {"certificate": cert_b64},
                            use_jwk=True)
    assert problem_type(refused) == "unauthorized"
    by_key = Client(app.test_client(), world.server_id, key=jose.JWKEC(key=key))
    ok = by_key.post(by_key.url("revoke-cert"), {"certificate": cert_b64, "reason": 1},
                     use_jwk=True)
    assert ok.status_code == 200, ok.get_json()
    with app.app_context():
        row = Certificate.query.one()
        assert row.revoked and row.revocation_reason == "keyCompromise"
    # revokeCert goes through the one revocation service: the worker re-signs the
    # issuer's CRL and the certificate's OCSP response at once, and it is audited there.
    jobs()
    with app.app_context():
        from app.models import AuditEvent
        from app.models.revocation import Crl, OcspResponse

        row = Certificate.query.one()
        ocsp = OcspResponse.query.filter_by(serial_hex=row.serial_hex).one()
        assert ocsp.cert_status == "revoked"
        assert Crl.query.filter_by(ca_id=row.issuer_ca_id).count() >= 1
        event = AuditEvent.query.filter_by(action="certificate.revoke").one()
        assert event.details["common_name"] == "www.example.com"
        assert event.actor_label == "the certificate's key (ACME)"
    twice = acme_client.post(acme_client.url("revoke-cert"), {"certificate": cert_b64})
    assert problem_type(twice) == "alreadyRevoked"


def test_account_disabled_after_finalize_gets_no_certificate(app, world, acme_client: Client,
                                                             jobs) -> None:
    from app.services import acme_admin

    response = acme_client.new_order("www.example.com")
    acme_client.post(response.get_json()["finalize"], {"csr": csr_der("www.example.com")})
    with app.app_context():
        server = acme_admin.get_server(world.server_id)
        acme_admin.set_account_enabled(acme_admin.get_account(server, world.account_id),
                                       False)
    jobs()
    with app.app_context():
        order = Order.query.one()
        assert order.status == "failed" and "ACME account" in (order.error or "")


def test_orders_page_names_the_acme_account(app, world, acme_client: Client, jobs) -> None:
    from tests.conftest import login, make_user

    response = acme_client.new_order("www.example.com")
    acme_client.post(response.get_json()["finalize"], {"csr": csr_der("www.example.com")})
    jobs()
    make_user(app)
    browser = app.test_client()
    login(browser)
    html = browser.get("/orders/").get_data(as_text=True)
    assert "ACME account web-fleet" in html


def test_another_account_reads_none_of_an_accounts_resources(app, world, acme_client,
                                                              jobs) -> None:
    """The lookups load the order, authorization and certificate without their account
    (``acme_protocol._get``, the certificate's ownership in its query): another account
    of the same server still gets 404 for each."""
    from tests.acme.helpers import make_account

    order = acme_client.new_order("www.example.com").get_json()
    order_url = order["finalize"].removesuffix("/finalize")
    acme_client.post(order["finalize"], {"csr": csr_der("www.example.com")})
    jobs()
    done = acme_client.post(order_url, None).get_json()
    assert done["status"] == "valid", done
    _, kid, hmac_key = make_account(app, world.server_id, "second", ["example.com"])
    other = Client(app.test_client(), world.server_id)
    assert other.register(kid, hmac_key).status_code == 201
    for url in (order_url, order["authorizations"][0], done["certificate"]):
        response = other.post(url, None)
        assert response.status_code == 404, (url, response.get_json())
        assert problem_type(response) == "malformed"
    assert acme_client.post(done["certificate"], None).status_code == 200
