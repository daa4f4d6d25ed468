"""The expiry scan: thresholds once per certificate, skipping revoked and renewed ones;
e-mail through a real SMTP server; a scan run twice notifies once."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Certificate, CertificateAlert, EmailMessage, Order, User
from app.models.base import utcnow
from app.services import expiry
from tests.conftest import make_user
from tests.notifications.conftest import add_certificate


def _alerts(app) -> dict[str, str]:
    """common name → alert types (sorted, joined)."""
    with app.app_context():
        rows = db.session.execute(select(CertificateAlert.common_name, CertificateAlert.type)
                                  .order_by(CertificateAlert.type)).all()
    found: dict[str, list[str]] = {}
    for name, kind in rows:
        found.setdefault(name, []).append(kind)
    return {k: ",".join(v) for k, v in found.items()}


def _renewed(app, certificate_id: str) -> None:
    """A complete renewal order with its certificate, for ``certificate_id``."""
    successor = add_certificate(app, "renewed-successor.example.com", 300)
    with app.app_context():
        provider_id = db.session.scalar(select(Order.provider_id).limit(1)) or uuid.UUID(
            "00000000-0000-4000-8000-000000000001")
        order = Order(type="local_pki", pathway="wizard", status="complete",
                      common_name="renewed.example.com", request={}, provider_id=provider_id,
                      requested_by_label="x", renews_certificate_id=uuid.UUID(certificate_id))
        db.session.add(order)
        db.session.flush()
        db.session.get(Certificate, uuid.UUID(successor)).order_id = order.id
        db.session.commit()


def test_thresholds_are_raised_once_each_and_revoked_or_renewed_are_skipped(app, ctx) -> None:
    add_certificate(app, "far.example.com", 40)
    add_certificate(app, "month.example.com", 20)
    add_certificate(app, "fortnight.example.com", 10)
    add_certificate(app, "week.example.com", 3)
    add_certificate(app, "gone.example.com", -1, source="discovered")
    add_certificate(app, "revoked.example.com", 3, revoked=True)
    _renewed(app, add_certificate(app, "renewed.example.com", 3))

    report = expiry.run_scan()
    assert report.alerts == {"expired": 1, "expiring_7": 1, "expiring_14": 1,
                             "expiring_30": 1}
    assert _alerts(app) == {"month.example.com": "expiring_30",
                            "fortnight.example.com": "expiring_14",
                            "week.example.com": "expiring_7", "gone.example.com": "expired"}

    again = expiry.run_scan()
    assert sum(again.alerts.values()) == 0                 # never twice

    later = expiry.run_scan(utcnow() + timedelta(days=12))  # 12 days on
    assert later.alerts == {"expired": 2, "expiring_7": 0, "expiring_14": 1,
                            "expiring_30": 1}
    assert _alerts(app) == {"far.example.com": "expiring_30",
                            "month.example.com": "expiring_14,expiring_30",
                            "fortnight.example.com": "expired,expiring_14",
                            "week.example.com": "expired,expiring_7",
                            "gone.example.com": "expired"}


def test_thresholds_are_configurable(app, ctx, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "EXPIRY_ALERT_DAYS", "60, 5")
    add_certificate(app, "a.example.com", 50)
    add_certificate(app, "b.example.com", 20)
    add_certificate(app, "c.example.com", 4)
    assert expiry.run_scan().alerts == {"expired": 0, "expiring_5": 1, "expiring_60": 2}


def test_one_email_per_recipient_lists_all_their_certificates(app, ctx, jobs,
                                                              mailbox) -> None:
    owner = make_user(app, "owner@example.com", role="user")
    quiet = make_user(app, "quiet@example.com", role="user")
    with app.app_context():
        db.session.get(User, quiet).email_notifications = False
        db.session.commit()
    add_certificate(app, "one.example.com", 20, owner_id=owner)
    add_certificate(app, "two.example.com", 5, owner_id=owner)
    add_certificate(app, "old.example.com", -2, owner_id=owner)
    add_certificate(app, "quiet.example.com", 5, owner_id=quiet)
    add_certificate(app, "nobody.example.com", 25)

    report = expiry.run_scan()
    assert report.emails == 2
    jobs()
    (mine,) = mailbox.to("owner@example.com")
    (ops,) = mailbox.to("ops@example.com")
    assert mailbox.to("quiet@example.com") == []
    assert len(mailbox.messages) == 2
    assert mine["From"] == "pki@example.com" and "3 certificates" in mine["Subject"]
    assert "1 expired" in mine["Subject"]
    text = mine.get_body(("plain",)).get_content()
    html = mine.get_body(("html",)).get_content()
    for name in ("one.example.com", "two.example.com", "old.example.com"):
        assert name in text and name in html
    assert "quiet.example.com" not in text and "EXPIRED" in text
    assert "<table>" in html and "Account page" in text
    ops_text = ops.get_body(("plain",)).get_content()
    for name in ("one.example.com", "quiet.example.com", "nobody.example.com"):
        assert name in ops_text
    with app.app_context():
        assert {m.status for m in db.session.scalars(select(EmailMessage))} == {"sent"}

    assert expiry.run_scan().emails == 0                    # a scan run twice notifies once
    jobs()
    assert len(mailbox.messages) == 2


def test_an_unreachable_smtp_server_leaves_the_message_for_a_retry(app, ctx, jobs,
                                                                  monkeypatch) -> None:
    from tests.notifications.conftest import _free_port

    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{_free_port()}")
    monkeypatch.setitem(app.config, "EXPIRY_OPS_EMAIL", "ops@example.com")
    add_certificate(app, "one.example.com", 20)
    assert expiry.run_scan().emails == 1
    jobs()
    with app.app_context():
        (message,) = db.session.scalars(select(EmailMessage)).all()
        assert message.status == "pending" and message.attempts == 1
        assert "ConnectionRefusedError" in message.error


def test_expiry_alerts_show_on_the_alerts_and_certificate_pages(app, admin_client) -> None:
    soon = add_certificate(app, "soon.example.com", 3)
    add_certificate(app, "gone.example.com", -3)
    with app.app_context():
        expiry.run_scan()
    page = admin_client.get("/certificates/alerts/").get_data(as_text=True)
    assert "Expiring ≤ 7 days" in page and "Expired" in page
    detail = admin_client.get(f"/certificates/{soon}").get_data(as_text=True)
    assert "Expiry monitoring" in detail and "expires within 7 days" in detail
