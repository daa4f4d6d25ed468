"""Signed webhooks against a real HTTP receiver: the body and the signature, once per
scan, and a retry after the receiver answered 500."""
from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Webhook, WebhookAttempt, WebhookDelivery
from app.services import expiry, webhooks
from app.services.errors import ValidationFailed
from tests.conftest import run_jobs_until
from tests.notifications.conftest import add_certificate, body_of

SECRET = "a-webhook-secret-of-some-length"


def _hook(app, url: str, events=("certificate.expiring", "certificate.expired")) -> str:
    with app.app_context():
        return str(webhooks.create_webhook("ops", url, events, SECRET).id)


def _verify(delivery: dict) -> None:
    headers = {k.lower(): v for k, v in delivery["headers"].items()}
    stamp = headers["x-webhook-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{stamp}.{delivery['body']}".encode(),
                        hashlib.sha256).hexdigest()
    assert headers["x-webhook-signature"] == f"sha256={expected}"
    assert headers["content-type"] == "application/json"


def test_expiry_events_are_signed_and_sent_once(app, ctx, worker_key, receiver) -> None:
    _hook(app, receiver.url)
    soon = add_certificate(app, "soon.example.com", 5)
    add_certificate(app, "gone.example.com", -1)
    add_certificate(app, "later.example.com", 90)
    report = expiry.run_scan()
    assert report.webhook_deliveries == 2
    run_jobs_until(app, lambda: len(receiver.received) == 2)
    bodies = {body_of(d)["event"]: body_of(d) for d in receiver.received}
    assert set(bodies) == {"certificate.expiring", "certificate.expired"}
    expiring = bodies["certificate.expiring"]
    assert expiring["data"]["certificate"]["id"] == soon
    assert expiring["data"]["certificate"]["common_name"] == "soon.example.com"
    assert expiring["data"]["threshold_days"] == 7 and expiring["data"]["days_left"] == 4
    for delivery in receiver.received:
        _verify(delivery)
    # A wrong secret would not verify: the signature covers timestamp and body.
    tampered = dict(receiver.received[0], body=receiver.received[0]["body"] + " ")
    with pytest.raises(AssertionError):
        _verify(tampered)

    assert expiry.run_scan().webhook_deliveries == 0      # a scan run twice notifies once
    with app.app_context():
        assert db.session.query(WebhookDelivery).count() == 2
        assert {d.status for d in db.session.scalars(select(WebhookDelivery))} == {"delivered"}


def test_a_delivery_answered_500_is_retried_and_logged(app, ctx, worker_key,
                                                       receiver) -> None:
    _hook(app, receiver.url, events=("certificate.expiring",))
    receiver.answers = [500]
    add_certificate(app, "soon.example.com", 5)
    expiry.run_scan()

    def delivered() -> bool:
        with app.app_context():
            return db.session.scalar(select(WebhookDelivery.status)) == "delivered"

    run_jobs_until(app, delivered, timeout=60)
    assert len(receiver.received) == 2
    assert receiver.received[0]["body"] == receiver.received[1]["body"]
    with app.app_context():
        attempts = db.session.scalars(select(WebhookAttempt).order_by(
            WebhookAttempt.attempt)).all()
        assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 200)]
        assert attempts[0].error == "HTTP 500" and attempts[1].error is None
        assert all(a.duration_ms >= 0 for a in attempts)


def test_only_subscribed_events_and_active_webhooks_get_deliveries(app, ctx, worker_key,
                                                                   receiver) -> None:
    _hook(app, receiver.url, events=("certificate.issued",))
    add_certificate(app, "soon.example.com", 5)
    assert expiry.run_scan().webhook_deliveries == 0


@pytest.mark.parametrize(("url", "code"), [
    ("ftp://example.com/x", "outbound.scheme"),
    ("http://169.254.169.254/latest", "outbound.address_refused"),
    ("http://10.0.0.1/hook", "outbound.address_refused"),
])
def test_unsafe_urls_are_refused_and_nothing_is_stored(app, ctx, worker_key, receiver, url,
                                                       code) -> None:
    with pytest.raises(ValidationFailed) as refused:
        webhooks.create_webhook("bad", url, ["certificate.expired"], SECRET)
    assert refused.value.code == code and refused.value.field == "url"
    assert db.session.query(Webhook).count() == 0


def test_the_secret_is_sealed_to_the_worker(app, ctx, worker_key, receiver) -> None:
    hook_id = _hook(app, receiver.url)
    with app.app_context():
        stored = db.session.get(Webhook, uuid.UUID(hook_id)).secret_sealed
    assert SECRET not in stored and stored.count(".") == 4


def test_issued_and_failed_orders_are_sent(app, ctx, jobs, worker_key, receiver) -> None:
    from app.domain.request import CertificateRequest
    from app.models import User
    from app.services.orders import submit_order
    from app.services.requesters import requester_for_user
    from tests.builders import add_domain, issuing_ca
    from tests.conftest import make_user

    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    _hook(app, receiver.url, events=("certificate.issued", "order.failed"))
    user_id = make_user(app, "u@example.com", role="user", domains=("example.com",))
    request = CertificateRequest(common_name="ok.example.com", algorithm="ec-256",
                                 digest="sha256", validity_days=30,
                                 key_usage=("digitalSignature",),
                                 extended_key_usage=("serverAuth",))
    with app.app_context():
        requester = requester_for_user(db.session.get(User, user_id))
        submit_order(request, requester, pathway="wizard", request_key="k1")
    run_jobs_until(app, lambda: len(receiver.received) >= 1)
    with app.app_context():
        requester = requester_for_user(db.session.get(User, user_id))
        bad, _ = submit_order(request.replace(common_name="no.example.com"), requester,
                              pathway="wizard", request_key="k2")
        bad_id = str(bad.id)
        db.session.get(User, user_id).enabled = False     # fails in the worker
        db.session.commit()
    run_jobs_until(app, lambda: len(receiver.received) >= 2)
    events = {body_of(d)["event"]: body_of(d)["data"] for d in receiver.received}
    assert set(events) == {"certificate.issued", "order.failed"}
    assert events["order.failed"]["order"]["id"] == bad_id
    assert "disabled" in events["order.failed"]["order"]["reason"]
    assert events["certificate.issued"]["certificate"]["common_name"] == "ok.example.com"
    for delivery in receiver.received:
        _verify(delivery)


def test_a_revocation_sends_certificate_revoked_in_its_transaction(app, ctx, jobs,
                                                                   worker_key,
                                                                   receiver) -> None:
    from app.domain.request import CertificateRequest
    from app.models import Certificate, User
    from app.services import revocation
    from app.services.errors import Conflict
    from app.services.orders import submit_order
    from app.services.requesters import requester_for_user
    from tests.builders import add_domain, issuing_ca
    from tests.conftest import make_user

    add_domain(app, "example.com")
    issuing_ca(app, jobs)
    _hook(app, receiver.url, events=("certificate.revoked",))
    user_id = make_user(app, "u@example.com", role="user", domains=("example.com",))
    with app.app_context():
        order, _ = submit_order(CertificateRequest(
            common_name="gone.example.com", algorithm="ec-256", digest="sha256",
            validity_days=30, key_usage=("digitalSignature",),
            extended_key_usage=("serverAuth",)),
            requester_for_user(db.session.get(User, user_id)), pathway="wizard",
            request_key="rev1")
        order_id = order.id
    jobs()
    with app.app_context():
        certificate = db.session.scalar(select(Certificate).where(
            Certificate.order_id == order_id))
        certificate_id = str(certificate.id)
        assert db.session.query(WebhookDelivery).count() == 0   # not subscribed to issued
        revocation.revoke_certificate(certificate, "keyCompromise",
                                      actor_label="test operator")
        # The delivery row was committed with the revocation itself.
        [delivery] = db.session.scalars(select(WebhookDelivery)).all()
        assert delivery.event == "certificate.revoked"
        with pytest.raises(Conflict):
            revocation.revoke_certificate(certificate, "keyCompromise",
                                          actor_label="test operator")
        assert db.session.query(WebhookDelivery).count() == 1   # a refusal sends nothing
    run_jobs_until(app, lambda: len(receiver.received) >= 1)
    [sent] = receiver.received
    _verify(sent)
    body = body_of(sent)
    assert body["event"] == "certificate.revoked"
    data = body["data"]["certificate"]
    assert data["id"] == certificate_id and data["reason"] == "keyCompromise"
    assert data["common_name"] == "gone.example.com" and data["revoked_at"]
