"""Who may renew from the certificate page, and the renewal's links and filter."""
from __future__ import annotations

import uuid

import pytest

from app.domain.request import CertificateRequest
from app.extensions import db
from app.models import Order, User
from tests.builders import add_domain, count, issuing_ca
from tests.conftest import login, make_user, post


@pytest.fixture
def issued(app, jobs) -> str:
    from app.services.orders import submit_order
    from app.services.requesters import requester_for_user

    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    owner = make_user(app, "owner@example.com", role="user", domains=("example.com",))
    with app.app_context():
        order, _ = submit_order(CertificateRequest(
            common_name="www.example.com", algorithm="ec-256", digest="sha256",
            validity_days=30, key_usage=("digitalSignature",),
            extended_key_usage=("serverAuth",)),
            requester_for_user(db.session.get(User, owner)), pathway="wizard",
            request_key=f"t:{uuid.uuid4().hex}")
        order_id = order.id
    jobs()
    with app.app_context():
        return str(db.session.get(Order, order_id).certificate.id)


@pytest.mark.parametrize("role", ["user", "policy_admin"])
def test_others_may_not_renew(app, client, issued, role) -> None:
    make_user(app, f"{role}@example.com", role=role, domains=("example.com",))
    login(client, f"{role}@example.com")
    page = client.get(f"/certificates/{issued}")
    assert page.status_code == (404 if role == "user" else 200)
    assert 'id="renew"' not in page.get_data(as_text=True)
    orders = count(app, Order)
    assert post(client, f"/certificates/{issued}/renew").status_code == 404
    assert count(app, Order) == orders


@pytest.mark.parametrize("who", ["owner@example.com", "pki@example.com"])
def test_owner_and_pki_admin_renew_and_the_owner_keeps_it(app, client, jobs, issued,
                                                          who) -> None:
    if who.startswith("pki"):
        make_user(app, who, role="pki_admin")
    login(client, who)
    assert 'id="renew"' in client.get(f"/certificates/{issued}").get_data(as_text=True)
    response = post(client, f"/certificates/{issued}/renew")
    assert response.status_code == 303
    order_id = response.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        assert not order.revoke_predecessor and str(order.renews_certificate_id) == issued
        assert order.request["action"] == "certificate.renew"
    jobs()
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        owner = db.session.scalar(db.select(User).where(User.email == "owner@example.com"))
        assert order.certificate.owner_user_id == owner.id
    page = client.get(f"/certificates/{issued}").get_data(as_text=True)
    assert 'id="renewed-by"' in page and 'id="renew-form"' not in page
    again = post(client, f"/certificates/{issued}/renew", follow_redirects=True)
    assert "already being renewed" in again.get_data(as_text=True)
    assert count(app, Order) == 2
    listing = client.get("/orders/?renewals=1").get_data(as_text=True)
    assert listing.count('data-badge="renewal"') == 1 and order_id in listing


def test_a_renewal_refused_by_policy_says_why_and_writes_no_order(app, client, issued) -> None:
    from tests.builders import add_policy

    add_policy(app, "No renewals", ["*.example.com"], [
        {"action": "enforce_max_validity", "fail": "hard", "values": {"max_days": 7}}],
        actions=["certificate.renew"])
    login(client, "owner@example.com")
    page = post(client, f"/certificates/{issued}/renew", follow_redirects=True)
    assert "Renewal refused" in page.get_data(as_text=True)
    assert "No renewals" in page.get_data(as_text=True)
    assert count(app, Order) == 1


def test_the_csr_page_refuses_a_certificate_the_user_may_not_renew(app, client,
                                                                  issued) -> None:
    make_user(app, "other@example.com", role="user", domains=("example.com",))
    login(client, "other@example.com")
    assert client.get(f"/request/csr?renews={issued}").status_code == 404
    assert client.get("/request/csr?renews=junk").status_code == 404


def test_renewing_with_revoke_revokes_the_predecessor_as_superseded(app, client, jobs,
                                                                     issued) -> None:
    from app.models import AuditEvent, Certificate
    from app.models.revocation import OcspResponse

    login(client, "owner@example.com")
    response = post(client, f"/certificates/{issued}/renew", {"revoke": "1"})
    assert response.status_code == 303
    order_id = response.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        assert order.revoke_predecessor
        assert not db.session.get(Certificate, uuid.UUID(issued)).revoked
    jobs()
    with app.app_context():
        order = db.session.get(Order, uuid.UUID(order_id))
        assert order.status == "complete" and not order.certificate.revoked
        old = db.session.get(Certificate, uuid.UUID(issued))
        assert old.revoked and old.revocation_reason == "superseded"
        ocsp = db.session.scalar(db.select(OcspResponse).where(
            OcspResponse.serial_hex == old.serial_hex))
        assert ocsp is not None and ocsp.cert_status == "revoked"
        event = db.session.scalar(db.select(AuditEvent).where(
            AuditEvent.action == "certificate.revoke",
            AuditEvent.resource_id == str(old.id)))
        assert event is not None and "renewal" in event.actor_label
