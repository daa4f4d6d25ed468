"""DigiCert and GlobalSign through the real order pipeline (wizard-equivalent submit →
RQ jobs → stored certificate), against their stand-ins:

- pending validation → ``processing`` with checks → ``complete``; the chain verifies
  with openssl against the stand-in's root; the CA was ordered from once;
- a certificate for another key, or with names the order did not ask for, fails the order;
- the CA's rejection reaches the order page in its words;
- 429 with Retry-After reschedules the issuance as job ``order-<id>-issue-1`` at that
  time; a CA down while the order waits is asked again, then the order completes;
- orphan guard: a worker lost while sending the order fails it, never sends it again."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq.registry import ScheduledJobRegistry
from sqlalchemy import update

from app.extensions import db
from app.jobs.queue import redis_connection
from app.models import Order
from app.models.base import utcnow
from app.services.sweeper import sweep
from tests.builders import add_domain
from tests.conftest import make_user, run_jobs, run_jobs_until
from tests.providers.acme_helpers import (
    certificate_of,
    events,
    settle,
    status,
    submit,
    verify_chain,
)
from tests.standins.ca import pem
from tests.standins.fixtures import create_digicert_provider, create_globalsign_provider
from tests.standins.server import Answer, JsonStandIn

ORDER_PATH = {"digicert": "/order/certificate/ssl_basic", "globalsign": "/v2/certificates"}


@dataclass
class CA:
    kind: str
    provider_id: str
    server: JsonStandIn

    def submissions(self) -> int:
        return len([r for r in self.server.calls("POST", ORDER_PATH[self.kind])
                    if r.path.endswith(ORDER_PATH[self.kind])])


@pytest.fixture
def user(app: Flask) -> None:
    make_user(app)


def place(app: Flask, ca: CA, *names: str) -> uuid.UUID:
    return submit(app, ca.provider_id, list(names), digest="sha256", validity_days="30")


@pytest.fixture(params=["digicert", "globalsign"])
def ca(request: pytest.FixtureRequest, app: Flask, worker_key: None) -> CA:
    add_domain(app, "example.test")
    server = request.getfixturevalue(request.param)
    create = create_digicert_provider if request.param == "digicert" \
        else create_globalsign_provider
    return CA(request.param, create(app, server), server)


def test_pending_validation_then_complete(app: Flask, user: None, ca: CA, tmp_path: Path) -> None:
    order_id = place(app, ca, "pending.example.test", "www.example.test")
    order = settle(app, order_id)
    assert order.status == "complete", order.error
    assert order.type == "external_ca" and order.external_id
    timeline = events(app, order_id)
    assert any(m.startswith("Waiting for the CA") for m in timeline), timeline
    assert ca.submissions() == 1
    cert = certificate_of(app, order_id)
    assert sorted(cert.sans) == ["pending.example.test", "www.example.test"]
    assert "OK" in verify_chain(cert, pem(ca.server.ca.root), tmp_path)   # type: ignore
    assert isinstance(order.lint_findings, list)


@pytest.mark.parametrize(("label", "words"), [
    ("wrongkey", "it certifies a different public key than the order's"),
    ("wrongnames", "(extra: unrequested.example.test)")])
def test_a_certificate_that_does_not_match_fails_the_order(app: Flask, user: None, ca: CA,
                                                           label: str, words: str) -> None:
    order_id = place(app, ca, f"{label}.example.test")
    order = settle(app, order_id)
    assert order.status == "failed"
    assert order.error.startswith("The CA's certificate does not match the order: ")
    assert words in order.error


def test_the_ca_rejection_reaches_the_order_page(app: Flask, admin_client: FlaskClient,
                                                 ca: CA) -> None:
    order_id = place(app, ca, "rejected.example.test")
    order = settle(app, order_id)
    expected = {"digicert": "Domain control validation failed for rejected.example.test.",
                "globalsign": "subject_dn.common_name 'rejected.example.test' is not "
                              "allowed by the validation policy."}[ca.kind]
    assert order.status == "failed" and expected in order.error
    page = admin_client.get(f"/orders/{order_id}").get_data(as_text=True)
    assert expected.replace("'", "&#39;") in page


def test_rate_limit_reschedules_the_issuance_at_retry_after(app: Flask, user: None, ca: CA) -> None:
    order_id = place(app, ca, "ratelimited.example.test")
    run_jobs(app)                                   # the first attempt, no scheduler
    assert status(app, order_id) == "pending"
    note = events(app, order_id)[-1]
    assert note.startswith("Temporary problem, will retry at") and "HTTP 429" in note
    with app.app_context():
        registry = ScheduledJobRegistry(app.config["RQ_QUEUE"],
                                        connection=redis_connection())
        assert registry.get_job_ids() == [f"order-{order_id}-issue-1"]
        when = registry.get_scheduled_time(f"order-{order_id}-issue-1")
        order = db.session.get(Order, order_id)
        assert order.ca_submission_started_at is None     # nothing at the CA
        assert sweep(pending_grace=0).requeued == []      # the retry job is not "lost"
        db.session.remove()
    assert 10 <= (when - datetime.now(UTC)).total_seconds() <= 17


def test_a_ca_down_while_waiting_is_asked_again(app: Flask, user: None, ca: CA) -> None:
    order_id = place(app, ca, "pending.example.test")
    run_jobs(app)
    assert status(app, order_id) == "processing"
    ca.server.outage = Answer(503, {"description": "maintenance", "errors": [
        {"code": "down", "message": "maintenance"}]}, {"Retry-After": "1"})  # type: ignore
    run_jobs_until(app, lambda: any("Temporary problem with the CA" in m
                                    for m in events(app, order_id)))
    ca.server.outage = None                                 # type: ignore[attr-defined]
    assert settle(app, order_id).status == "complete"
    assert ca.submissions() == 1


def test_the_marker_is_committed_before_the_ca_hears_of_the_order(app: Flask, user: None,
                                                                  ca: CA) -> None:
    seen: list[object] = []

    def look(recorded) -> None:
        if recorded.method == "POST" and recorded.path.endswith(ORDER_PATH[ca.kind]):
            with app.app_context():
                seen.append(db.session.get(Order, order_id).ca_submission_started_at)
                db.session.remove()

    order_id = place(app, ca, "www.example.test")
    ca.server.observe = look
    assert settle(app, order_id).status == "complete"
    assert len(seen) == 1 and seen[0] is not None


def test_orphan_guard_never_submits_twice(app: Flask, user: None, ca: CA) -> None:
    """A worker that died after marking the submission (the CA may have the order) and
    before storing the CA's order id: the sweeper fails the order, it does not resend."""
    order_id = place(app, ca, "www.example.test")
    with app.app_context():
        long_ago = utcnow() - timedelta(hours=1)
        db.session.execute(update(Order).where(Order.id == order_id).values(
            status="processing", started_at=long_ago, attempts=1,
            ca_submission_started_at=long_ago))
        db.session.commit()
        report = sweep(pending_grace=0, processing_timeout=60)
        order = db.session.get(Order, order_id)
        assert report.failed == [str(order_id)] and order.status == "failed"
        assert "It is not sent again automatically" in order.error
        db.session.remove()
    run_jobs(app)                               # the original queued job finds it failed
    assert ca.submissions() == 0 and status(app, order_id) == "failed"


def test_without_the_marker_a_lost_worker_is_recovered(app: Flask, user: None, ca: CA) -> None:
    """Lost before the marker (nothing sent): back to pending and issued once."""
    order_id = place(app, ca, "www.example.test")
    with app.app_context():
        db.session.execute(update(Order).where(Order.id == order_id).values(
            status="processing", started_at=utcnow() - timedelta(hours=1), attempts=1))
        db.session.commit()
        assert sweep(pending_grace=0, processing_timeout=60).recovered == [str(order_id)]
        db.session.remove()
    assert settle(app, uuid.UUID(str(order_id))).status == "complete"
    assert ca.submissions() == 1
