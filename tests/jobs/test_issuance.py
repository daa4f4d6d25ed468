"""Issuance by the real worker class: order → certificate, one per order, verified."""
from __future__ import annotations

import subprocess
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Certificate, Order, OrderEvent
from app.services.intake import request_from_values
from app.services.orders import submit_order
from app.services.requesters import requester_for_user
from tests.builders import add_domain, issuing_ca
from tests.conftest import make_user


def _submit(app, issuer: str, **overrides) -> uuid.UUID:
    from app.models import User

    values = {"common_name": "www.example.com", "sans": ["api.example.com"],
              "organization": "Acme", "algorithm": "ec-256", "digest": "sha256",
              "validity_days": "90", "key_usage": ["digitalSignature"],
              "extended_key_usage": ["serverAuth"], "issuer_id": issuer, **overrides}
    with app.app_context():
        user = db.session.scalar(select(User))
        request, problems = request_from_values(values)
        assert problems == []
        order, _ = submit_order(request, requester_for_user(user), pathway="wizard",
                                request_key=f"test:{uuid.uuid4()}")
        return order.id


@pytest.fixture
def issuer(app, jobs) -> str:
    add_domain(app, "example.com")
    make_user(app)
    return issuing_ca(app, jobs)


def _order(app, order_id) -> Order:
    with app.app_context():
        order = db.session.get(Order, order_id)
        db.session.expunge(order)
        return order


def test_order_is_issued_and_completed(app, jobs, issuer, tmp_path) -> None:
    order_id = _submit(app, issuer)
    assert _order(app, order_id).status == "pending"
    jobs()
    order = _order(app, order_id)
    assert order.status == "complete" and order.started_at and order.finished_at, order.error
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.order_id == order_id))
        statuses = list(db.session.scalars(select(OrderEvent.to_status)
                                           .where(OrderEvent.order_id == order_id)
                                           .order_by(OrderEvent.id)))
        ca = __import__("app.models", fromlist=["CertificateAuthority"]).CertificateAuthority
        root = db.session.scalar(select(ca).where(ca.kind == "root"))
        root_pem = root.certificate_pem
    assert statuses == ["pending", "processing", "complete"]
    assert cert.sans == ["www.example.com", "api.example.com"]
    assert cert.encrypted_private_key and "PRIVATE KEY" not in cert.encrypted_private_key
    (tmp_path / "root.pem").write_text(root_pem)
    (tmp_path / "chain.pem").write_text(cert.chain_pem)
    (tmp_path / "leaf.pem").write_text(cert.certificate_pem)
    verify = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile",
                             str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "chain.pem"),
                             str(tmp_path / "leaf.pem")], capture_output=True, text=True,
                            check=False)
    assert verify.returncode == 0, verify.stderr


def test_the_same_job_enqueued_twice_gives_one_certificate(app, jobs, issuer) -> None:
    from app.services.orders import enqueue_issue

    order_id = _submit(app, issuer)
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert enqueue_issue(order)  # a duplicate of the job submit_order queued
        from app.jobs.orders import issue_order
        jobs()
        assert issue_order(str(order_id)) == "skipped"  # and a direct second run
        assert db.session.scalar(select(func.count(Certificate.id))) == 1


def test_policy_changed_after_submit_fails_the_order_with_a_reason(app, jobs, issuer) -> None:
    from tests.builders import add_policy

    order_id = _submit(app, issuer)
    add_policy(app, "Later rule", ["*.example.com"], [
        {"action": "enforce_digest", "fail": "hard", "values": {"digest": "sha512"}}])
    jobs()
    order = _order(app, order_id)
    assert order.status == "failed"
    assert "sha512" in order.error and "Traceback" not in order.error


def test_disabled_domain_after_submit_fails_the_order(app, jobs, issuer) -> None:
    from app.services import domains

    order_id = _submit(app, issuer)
    with app.app_context():
        domains.set_enabled(domains.find_domain("example.com"), False)
    jobs()
    order = _order(app, order_id)
    assert order.status == "failed" and "www.example.com" in order.error


def test_sweeper_requeues_an_order_whose_job_was_lost(app, jobs, issuer) -> None:
    from app.services.sweeper import sweep
    from tests.conftest import _drop_queue

    order_id = _submit(app, issuer)
    _drop_queue(app.config["REDIS_URL"], app.config["RQ_QUEUE"])  # the job is gone
    jobs()
    assert _order(app, order_id).status == "pending"
    with app.app_context():
        report = sweep(pending_grace=0)
    assert report.requeued == [str(order_id)]
    jobs()
    assert _order(app, order_id).status == "complete"


def test_sweeper_recovers_a_processing_order_and_gives_up_after_three(app, issuer) -> None:
    from app.domain.orders import OrderStatus
    from app.services.order_flow import transition
    from app.services.sweeper import sweep

    order_id = _submit(app, issuer)
    for attempt in range(3):
        with app.app_context():  # a worker claims it, then dies
            assert transition(order_id, OrderStatus.PENDING, OrderStatus.PROCESSING, "claim",
                              started_at=__import__("app.models.base", fromlist=["utcnow"])
                              .utcnow(), attempts=Order.attempts + 1)
            db.session.commit()
            report = sweep(processing_timeout=0, pending_grace=3600)
        if attempt < 2:
            assert report.recovered == [str(order_id)]
            assert _order(app, order_id).status == "pending"
    assert report.failed == [str(order_id)]
    order = _order(app, order_id)
    assert order.status == "failed" and "stopped 3 times" in order.error


def test_sweeper_requeues_an_order_whose_worker_died_right_after_taking_the_job(
        app, jobs, issuer) -> None:
    """The job is "started" in RQ but its worker is gone and its heartbeat old, while the
    order is still pending (the worker died before claiming it)."""
    from datetime import UTC, datetime, timedelta

    from rq import Queue
    from rq.job import Job, JobStatus

    from app.jobs.queue import redis_connection
    from app.services.sweeper import sweep

    order_id = _submit(app, issuer)
    with app.app_context():
        connection = redis_connection()
        job = Job.fetch(f"order-{order_id}-issue", connection=connection)
        Queue(app.config["RQ_QUEUE"], connection=connection).remove(job)
        job.worker_name = "a-worker-that-was-killed"
        job.save()
        job.set_status(JobStatus.STARTED)
        job.heartbeat(datetime.now(UTC) - timedelta(minutes=5), ttl=600)
        assert sweep(pending_grace=3600).requeued == []  # too young to judge
        report = sweep(pending_grace=0)
    assert report.requeued == [str(order_id)]
    jobs()
    assert _order(app, order_id).status == "complete"
