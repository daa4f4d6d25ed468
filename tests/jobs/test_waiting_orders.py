"""Orders waiting on an external CA, without the CA: the sweeper re-enqueues an overdue
*check* (never the submission), leaves a check that is not due alone, and the check job
claims its number once (a duplicate or late delivery changes nothing)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from flask import Flask
from rq import Queue

from app.domain.request import CertificateRequest
from app.extensions import db
from app.jobs.queue import redis_connection
from app.models import Order, OrderEvent
from app.models.base import utcnow
from app.services import order_processing, providers
from app.services.sweeper import sweep


@pytest.fixture
def acme_provider_id(app: Flask, worker_key: None) -> uuid.UUID:
    with app.app_context():
        provider_id = providers.create_provider("acme", "Public CA", {
            "directory_url": "https://127.0.0.1:9/dir", "challenge": "http-01"}, {}).id
        db.session.remove()
        return provider_id


def _waiting_order(app: Flask, provider_id: uuid.UUID, *, due_in: timedelta,
                   external_id: str | None = "https://ca.example/order/1",
                   started_ago: timedelta = timedelta(hours=2)) -> uuid.UUID:
    with app.app_context():
        order = Order(type="acme", pathway="wizard", status="processing",
                      common_name="www.example.com", provider_id=provider_id,
                      request=CertificateRequest("www.example.com",
                                                 algorithm="ec-256").to_dict(),
                      requested_by_label="someone", started_at=utcnow() - started_ago,
                      external_id=external_id, next_check_at=utcnow() + due_in, checks=3)
        db.session.add(order)
        db.session.commit()
        return order.id


def _queued_ids(app: Flask) -> list[str]:
    with app.app_context():
        return Queue(app.config["RQ_QUEUE"], connection=redis_connection()).job_ids


def test_sweeper_requeues_an_overdue_check_and_never_resubmits(
        app: Flask, acme_provider_id: uuid.UUID) -> None:
    order_id = _waiting_order(app, acme_provider_id, due_in=-timedelta(minutes=5))
    with app.app_context():
        report = sweep()
        assert report.checks_requeued == [str(order_id)]
        assert report.recovered == [] and report.requeued == [] and report.failed == []
        order = db.session.get(Order, order_id)
        assert order.status == "processing" and order.external_id == \
            "https://ca.example/order/1"
        assert db.session.query(OrderEvent).filter_by(order_id=order_id).count() == 0
    assert _queued_ids(app) == [f"order-{order_id}-check-3"]
    with app.app_context():   # a second pass finds the check queued: nothing more
        assert sweep().checks_requeued == []
    assert _queued_ids(app) == [f"order-{order_id}-check-3"]


def test_a_check_that_is_not_due_is_left_alone(app: Flask, acme_provider_id: uuid.UUID) -> None:
    order_id = _waiting_order(app, acme_provider_id, due_in=timedelta(minutes=10),
                              started_ago=timedelta(days=1))
    with app.app_context():
        report = sweep()
        assert report.as_dict() | {"cas_requeued": 0} == {
            "requeued": [], "recovered": [], "failed": [], "checks_requeued": [],
            "cas_requeued": 0, "keys_expired": 0}
        assert db.session.get(Order, order_id).status == "processing"
    assert _queued_ids(app) == []


def test_an_order_without_a_ca_order_is_still_recovered(app: Flask,
                                                        acme_provider_id: uuid.UUID) -> None:
    """Before the CA has the order (no external_id) a lost worker is recovered as before:
    back to pending and issued again."""
    order_id = _waiting_order(app, acme_provider_id, due_in=-timedelta(minutes=5),
                              external_id=None)
    with app.app_context():
        report = sweep()
        assert report.recovered == [str(order_id)] and report.checks_requeued == []
        assert db.session.get(Order, order_id).status == "pending"
    assert _queued_ids(app) == [f"order-{order_id}-issue"]


def test_a_check_number_is_claimed_once(app: Flask, acme_provider_id: uuid.UUID) -> None:
    order_id = _waiting_order(app, acme_provider_id, due_in=-timedelta(seconds=1))
    with app.app_context():
        assert order_processing.check_order(str(order_id), 2) == "skipped"   # stale number
        # Number 3 is claimed; the CA (nothing listens on port 9) is unreachable, which is
        # transient: the order keeps waiting with a later check and a timeline note.
        assert order_processing.check_order(str(order_id), 3) == "waiting"
        order = db.session.get(Order, order_id)
        assert order.status == "processing" and order.checks == 4
        assert order.next_check_at > utcnow()
        notes = [e.message for e in db.session.query(OrderEvent).filter_by(order_id=order_id)]
        assert any("Temporary problem with the CA, next check" in n for n in notes)
        assert order_processing.check_order(str(order_id), 3) == "skipped"   # duplicate
    assert _queued_ids(app) == []   # the next check is scheduled, not queued
    with app.app_context():
        scheduled = Queue(app.config["RQ_QUEUE"],
                          connection=redis_connection()).scheduled_job_registry.get_job_ids()
    assert scheduled == [f"order-{order_id}-check-4"]


def test_an_order_waiting_past_the_limit_fails(app: Flask, acme_provider_id: uuid.UUID) -> None:
    order_id = _waiting_order(app, acme_provider_id, due_in=-timedelta(seconds=1))
    app.config["PROVIDER_MAX_WAIT_SECONDS"] = 60
    try:
        with app.app_context():
            order = db.session.get(Order, order_id)
            order.submitted_at = utcnow() - timedelta(hours=1)
            db.session.commit()
            assert order_processing.check_order(str(order_id), 3) == "failed"
            order = db.session.get(Order, order_id)
            assert order.status == "failed" and "Gave up waiting for the CA" in order.error
    finally:
        app.config["PROVIDER_MAX_WAIT_SECONDS"] = 7 * 86400
