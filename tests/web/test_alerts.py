"""Alerts where they belong: a soft warning recorded at submit shows on the order page,
moves to the certificate at issuance (``certificate_id`` set in the same transaction), is
linked from the Alerts page, and acknowledging it is audited and returns to the page."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Certificate, CertificateAlert, User
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, add_policy, issuing_ca
from tests.conftest import login, make_user, post

USER = "u1@example.com"


def submit(app, email: str, issuer: str, digest: str = "sha256") -> str:
    values = {"common_name": "www.example.com", "algorithm": "ec-256", "digest": digest,
              "validity_days": "30", "key_usage": ["digitalSignature"],
              "extended_key_usage": ["serverAuth"], "issuer_id": issuer}
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        request, _ = request_from_values(values)
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"t:{uuid.uuid4()}")
        return str(order.id)


@pytest.fixture
def issuer(app, jobs) -> str:
    add_domain(app, "example.com")
    make_user(app)
    make_user(app, USER, role="user", domains=("example.com",))
    make_user(app, "u2@example.com", role="user", domains=("example.com",))
    add_policy(app, "Strong digests", ["*.example.com"], [
        {"action": "enforce_digest", "fail": "soft", "values": {"digest": "sha384"}}],
        description="We prefer SHA-384 for new certificates.")
    return issuing_ca(app, jobs)


def test_soft_warning_follows_the_order_to_its_certificate(app, client, issuer, jobs) -> None:
    order_id = submit(app, USER, issuer)
    login(client, USER)
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'id="order-alerts"' in page and "requires digest sha384" in page
    jobs()
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(
            Certificate.order_id == uuid.UUID(order_id)))
        alert = db.session.scalar(select(CertificateAlert))
        assert cert is not None and alert.certificate_id == cert.id
        cert_id = str(cert.id)
    page = client.get(f"/certificates/{cert_id}").get_data(as_text=True)
    assert 'id="certificate-alerts"' in page and "requires digest sha384" in page
    listing = client.get("/certificates/alerts/").get_data(as_text=True)
    assert f'href="/certificates/{cert_id}" data-link="certificate"' in listing


def test_alert_of_an_order_not_yet_issued_links_to_the_order(app, client, issuer) -> None:
    order_id = submit(app, USER, issuer)
    login(client, USER)
    listing = client.get("/certificates/alerts/").get_data(as_text=True)
    assert f'href="/orders/{order_id}" data-link="order"' in listing


def test_acknowledge_is_audited_and_returns_to_the_page(app, client, issuer) -> None:
    order_id = submit(app, USER, issuer)
    login(client, USER)
    with app.app_context():
        alert_id = db.session.scalar(select(CertificateAlert.id))
    response = post(client, f"/certificates/alerts/{alert_id}/acknowledge",
                    {"next": f"/orders/{order_id}"})
    assert response.status_code == 303 and response.location == f"/orders/{order_id}"
    page = client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Acknowledged" in page
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(
            AuditEvent.action == "alert.acknowledge"))
        assert event is not None and event.actor_label == USER
        assert event.resource_type == "alert" and event.resource_id == str(alert_id)
    # Acknowledging twice changes nothing and records nothing more.
    post(client, f"/certificates/alerts/{alert_id}/acknowledge")
    with app.app_context():
        assert len(db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "alert.acknowledge")).all()) == 1


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_acknowledge_never_redirects_off_site(app, client, issuer, target) -> None:
    submit(app, USER, issuer)
    login(client, USER)
    with app.app_context():
        alert_id = db.session.scalar(select(CertificateAlert.id))
    response = post(client, f"/certificates/alerts/{alert_id}/acknowledge", {"next": target})
    assert response.location == "/certificates/alerts/"


def test_another_users_alert_is_404(app, client, issuer) -> None:
    submit(app, USER, issuer)
    login(client, "u2@example.com")
    with app.app_context():
        alert_id = db.session.scalar(select(CertificateAlert.id))
    assert post(client, f"/certificates/alerts/{alert_id}/acknowledge").status_code == 404
    assert "requires digest" not in client.get("/certificates/alerts/").get_data(as_text=True)


def _bare_alert(app, n: int) -> int:
    with app.app_context():
        alert = CertificateAlert(
            type="policy_soft_fail", request_key=f"test:{n}", policy_name="Short lived",
            rule="enforce_max_validity", code="policy.enforce_max_validity",
            message="Validity over 90 days.", common_name=f"www{n}.example.com",
            requester_user_id=None, requester_label="someone")
        db.session.add(alert)
        db.session.commit()
        return alert.id


def test_acknowledging_twice_is_audited_once(app, admin_client) -> None:
    alert_id = _bare_alert(app, 0)
    for _ in range(2):
        assert post(admin_client, f"/certificates/alerts/{alert_id}/acknowledge") \
            .status_code == 303
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "alert.acknowledge")).all()
        assert event.resource_type == "alert" and event.resource_id == str(alert_id)
        assert event.details["policy"] == "Short lived"


def test_a_huge_alert_id_is_404(app, admin_client) -> None:
    assert post(admin_client, "/certificates/alerts/99999999999999999999/acknowledge") \
        .status_code == 404


def test_alerts_pagination_survives_odd_cursors(app, admin_client) -> None:
    for n in range(30):
        _bare_alert(app, n)
    for before in ("99999999999999999999", "-5", "abc", "0", "1e9", "２", ""):
        assert admin_client.get(f"/certificates/alerts/?before={before}").status_code == 200
