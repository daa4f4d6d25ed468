"""Admin → Notifications (super_admin only) and the Account page's e-mail opt-out: create,
edit, save unchanged, refusals that write nothing, the delivery log."""
from __future__ import annotations

import uuid

import pytest

from app.extensions import db
from app.models import User, Webhook, WebhookAttempt, WebhookDelivery
from tests.builders import count
from tests.conftest import login, make_user, post

URL = "https://127.0.0.1:9/hooks/pki"   # loopback is allowed by the test settings
GOOD = {"name": "ops", "url": URL, "events": ["certificate.expiring", "order.failed"],
        "secret": "a-long-enough-secret"}


def _hook(app) -> Webhook:
    with app.app_context():
        row = db.session.scalars(db.select(Webhook)).one()
        db.session.expunge(row)
        return row


def test_super_admin_creates_edits_and_deletes_a_webhook(app, admin_client, worker_key) -> None:
    created = post(admin_client, "/admin/notifications/", GOOD)
    assert created.status_code == 303, created.get_data(as_text=True)
    hook = _hook(app)
    assert hook.events == ["certificate.expiring", "order.failed"]
    assert "a-long-enough-secret" not in hook.secret_sealed
    page = admin_client.get(f"/admin/notifications/{hook.id}").get_data(as_text=True)
    assert "a-long-enough-secret" not in page and "No deliveries yet" in page

    # Save unchanged (empty secret keeps the stored one).
    saved = post(admin_client, f"/admin/notifications/{hook.id}",
                 {**GOOD, "secret": "", "active": "y"})
    assert saved.status_code == 303
    assert _hook(app).secret_sealed == hook.secret_sealed
    # Edit: other events, paused.
    post(admin_client, f"/admin/notifications/{hook.id}",
         {**GOOD, "secret": "", "events": ["certificate.issued"]})
    edited = _hook(app)
    assert edited.events == ["certificate.issued"] and not edited.active

    with app.app_context():
        delivery = WebhookDelivery(webhook_id=hook.id, event="certificate.issued", body="{}",
                                   status="delivered", attempts=1)
        db.session.add(delivery)
        db.session.flush()
        db.session.add(WebhookAttempt(delivery_id=delivery.id, attempt=1, status_code=204,
                                      duration_ms=12))
        db.session.commit()
    log = admin_client.get(f"/admin/notifications/{hook.id}").get_data(as_text=True)
    assert "204, 12 ms" in log

    assert post(admin_client, f"/admin/notifications/{hook.id}/delete").status_code == 303
    assert count(app, Webhook) == 0 and count(app, WebhookDelivery) == 0


@pytest.mark.parametrize(("change", "message"), [
    ({"url": "http://10.0.0.1/x"}, "Only https"),
    ({"url": "https://10.0.0.1/x"}, "10.0.0.1"),
    ({"events": []}, "Choose at least one event"),
    ({"events": ["certificate.colour"]}, "Choose at least one event"),
    ({"secret": "short"}, "16 to 200"),
    ({"name": ""}, "Give the webhook a name"),
])
def test_refusals_say_what_is_wrong_and_store_nothing(app, admin_client, worker_key, change,
                                                      message) -> None:
    response = post(admin_client, "/admin/notifications/", {**GOOD, **change})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, Webhook) == 0


def test_only_super_admins_see_notifications(app, client) -> None:
    make_user(app, "pki@example.com", role="pki_admin")
    login(client, "pki@example.com")
    assert client.get("/admin/notifications/").status_code == 403
    assert post(client, "/admin/notifications/", GOOD).status_code == 403
    assert client.get(f"/admin/notifications/{uuid.uuid4()}").status_code == 403


def test_users_turn_their_expiry_emails_off_and_on(app, client) -> None:
    user_id = make_user(app, "u@example.com", role="user")
    login(client, "u@example.com")
    page = client.get("/account/notifications").get_data(as_text=True)
    assert 'id="f-email_notifications"' in page and "checked" in page
    assert post(client, "/account/notifications", {}).status_code == 302
    with app.app_context():
        assert db.session.get(User, user_id).email_notifications is False
    post(client, "/account/notifications", {"email_notifications": "1"})
    with app.app_context():
        assert db.session.get(User, user_id).email_notifications is True
