"""Certificates → Alerts: acknowledging is audited once; another user's alert is 404;
pagination never fails on a hand-edited cursor."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, CertificateAlert
from app.services.requesters import Requester
from tests.conftest import login, make_user, post


def _alert(app, user_id: int | None, n: int = 0) -> int:
    with app.app_context():
        alert = CertificateAlert(
            type="policy_soft_fail", request_key=f"test:{n}", policy_name="Short lived",
            rule="enforce_max_validity", code="policy.enforce_max_validity",
            message="Validity over 90 days.", common_name=f"www{n}.example.com",
            requester_user_id=user_id, requester_label="someone")
        db.session.add(alert)
        db.session.commit()
        return alert.id


def _events(app) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "alert.acknowledge")))
        db.session.expunge_all()
        return rows


def test_acknowledging_an_alert_is_audited_once(app, admin_client) -> None:
    alert_id = _alert(app, None)
    assert post(admin_client, f"/certificates/alerts/{alert_id}/acknowledge").status_code == 302
    assert post(admin_client, f"/certificates/alerts/{alert_id}/acknowledge").status_code == 302
    [event] = _events(app)
    assert event.resource_type == "alert" and event.resource_id == str(alert_id)
    assert event.actor_label == "admin@example.com"
    assert event.details["policy"] == "Short lived"
    assert event.details["common_name"] == "www0.example.com"
    with app.app_context():
        assert db.session.get(CertificateAlert, alert_id).acknowledged_at is not None


def test_another_users_alert_cannot_be_acknowledged(app, client) -> None:
    owner = make_user(app, "owner@example.com", role="user")
    make_user(app, "other@example.com", role="user")
    alert_id = _alert(app, owner)
    login(client, "other@example.com")
    assert post(client, f"/certificates/alerts/{alert_id}/acknowledge").status_code == 404
    assert post(client, "/certificates/alerts/99999999999999999999/acknowledge") \
        .status_code == 404
    assert _events(app) == []


def test_alerts_pagination_survives_odd_cursors(app, admin_client) -> None:
    for n in range(30):
        _alert(app, None, n)
    for before in ("99999999999999999999", "-5", "abc", "0", "1e9", "２", ""):
        response = admin_client.get(f"/certificates/alerts/?before={before}")
        assert response.status_code == 200, before
    assert Requester  # (the alert rows above use the requester's label only)
