"""Batch issuance (the scale issue): Local PKI orders of a batch submission are issued by
one ``issue_orders`` job — one claim, one transaction for their certificates — with the
single path's outcome for each order: one certificate per order, the same checks and
refusals, OCSP answers, audit events, and the sweeper's recovery."""
from __future__ import annotations

import subprocess
import uuid

import pytest
from cryptography import x509
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    AuditEvent,
    Certificate,
    CertificateAuthority,
    OcspResponse,
    Order,
    OrderEvent,
    User,
)
from app.services.intake import request_from_values
from app.services.orders import OrderDraft, submit_orders
from app.services.requesters import requester_for_user
from tests.builders import add_domain, issuing_ca
from tests.conftest import make_user


@pytest.fixture
def issuer(app, jobs) -> str:
    add_domain(app, "example.com")
    make_user(app)
    return issuing_ca(app, jobs)


def _submit_batch(app, issuer: str, count: int, *, email: str = "admin@example.com",
                  prefix: str = "b") -> list[uuid.UUID]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        drafts = []
        for i in range(count):
            request, problems = request_from_values({
                "common_name": f"{prefix}{i}.example.com", "sans": [], "algorithm": "ec-256",
                "digest": "sha256", "validity_days": "90",
                "key_usage": ["digitalSignature"], "extended_key_usage": ["serverAuth"],
                "issuer_id": issuer})
            assert problems == []
            drafts.append(OrderDraft(request, f"test:{uuid.uuid4()}", earlier_alerts=False))
        outcomes = submit_orders(drafts, requester_for_user(user), pathway="wizard")
        return [outcome[0].id for outcome in outcomes]  # type: ignore[index]


def _statuses(app, ids: list[uuid.UUID]) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(Order.status, func.count(Order.id)).where(
            Order.id.in_(ids)).group_by(Order.status)).all())


def _queued(app) -> list[str]:
    from rq import Queue

    from app.jobs.queue import redis_connection

    with app.app_context():
        return list(Queue(app.config["RQ_QUEUE"], connection=redis_connection()).job_ids)


def test_a_batch_submission_is_issued_by_one_job_with_one_certificate_each(
        app, jobs, issuer, tmp_path) -> None:
    ids = _submit_batch(app, issuer, 7)
    queued = _queued(app)
    assert len(queued) == 1 and queued[0].startswith("orders-batch-")
    jobs()
    assert _statuses(app, ids) == {"complete": 7}
    with app.app_context():
        certs = db.session.scalars(select(Certificate).where(
            Certificate.order_id.in_(ids))).all()
        assert sorted(c.order_id for c in certs) == sorted(ids)
        assert sorted(c.common_name for c in certs) == sorted(f"b{i}.example.com"
                                                              for i in range(7))
        assert all(c.encrypted_private_key and "PRIVATE KEY" not in c.encrypted_private_key
                   for c in certs)
        # The issuer DN the batch takes from the issuing CA is the certificate's own.
        assert {c.issuer_dn for c in certs} == {x509.load_pem_x509_certificate(
            c.certificate_pem.encode()).issuer.rfc4514_string() for c in certs}
        # The single path's timeline, audit event and OCSP answer for each order.
        timeline = [e.to_status for e in db.session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == ids[3]).order_by(OrderEvent.id))]
        assert timeline == ["pending", "processing", "complete"]
        issued = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "certificate.issue")).all()
        assert sorted(e.details["order_id"] for e in issued) == sorted(map(str, ids))
        answered = set(db.session.scalars(select(OcspResponse.serial_hex).where(
            OcspResponse.cert_status == "good")))
        assert {c.serial_hex for c in certs} <= answered
        root_pem = db.session.scalar(select(CertificateAuthority.certificate_pem).where(
            CertificateAuthority.kind == "root"))
        leaf = certs[0]
    (tmp_path / "root.pem").write_text(root_pem)
    (tmp_path / "chain.pem").write_text(leaf.chain_pem)
    (tmp_path / "leaf.pem").write_text(leaf.certificate_pem)
    verify = subprocess.run(["openssl", "verify", "-x509_strict", "-CAfile",
                             str(tmp_path / "root.pem"), "-untrusted",
                             str(tmp_path / "chain.pem"), str(tmp_path / "leaf.pem")],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr


def test_the_batch_job_run_twice_issues_each_order_once(app, jobs, issuer) -> None:
    from app.services.batch_issuance import process_orders

    ids = _submit_batch(app, issuer, 5)
    jobs()
    with app.app_context():
        again = process_orders([str(i) for i in ids])
        assert again == {"complete": 0, "failed": 0, "skipped": 0, "single": 0}
        assert db.session.scalar(select(func.count(Certificate.id)).where(
            Certificate.order_id.in_(ids))) == 5


def test_two_batch_jobs_naming_the_same_orders_claim_each_once(app, issuer) -> None:
    """A second job naming the orders while the first holds them finds none pending."""
    from app.domain.orders import OrderStatus
    from app.services.batch_issuance import process_orders
    from app.services.order_flow import transition_many

    ids = _submit_batch(app, issuer, 4)
    with app.app_context():
        taken = transition_many(ids[:2], OrderStatus.PENDING, OrderStatus.PROCESSING,
                                dict.fromkeys(ids[:2], "another worker"))
        db.session.commit()
        assert taken == set(ids[:2])
        counts = process_orders([str(i) for i in ids])
        assert counts["complete"] == 2
    assert _statuses(app, ids) == {"complete": 2, "processing": 2}


def test_an_order_refused_at_the_recheck_fails_alone(app, issuer) -> None:
    """One job holding two requesters' orders: the one whose account was disabled after
    submitting fails with the single path's reason; the others are issued."""
    from app.services.batch_issuance import process_orders

    make_user(app, "later-disabled@example.com")
    kept = _submit_batch(app, issuer, 3)
    refused = _submit_batch(app, issuer, 2, email="later-disabled@example.com", prefix="r")
    with app.app_context():
        db.session.scalar(select(User).where(
            User.email == "later-disabled@example.com")).enabled = False
        db.session.commit()
        counts = process_orders([str(i) for i in kept + refused])
        assert (counts["complete"], counts["failed"]) == (3, 2)
        errors = {o.error for o in db.session.scalars(select(Order).where(
            Order.id.in_(refused)))}
    assert _statuses(app, kept) == {"complete": 3}
    assert len(errors) == 1 and "disabled or removed after submitting" in errors.pop()


def test_the_sweeper_sees_a_queued_batch_and_requeues_a_lost_one(app, jobs, issuer) -> None:
    from app.jobs.queue import discard_job
    from app.services.sweeper import sweep

    ids = _submit_batch(app, issuer, 3)
    (batch_job,) = _queued(app)
    with app.app_context():
        assert sweep(pending_grace=0).requeued == []   # the batch job stands for them
        discard_job(batch_job)                          # lost (Redis flushed, say)
        report = sweep(pending_grace=0)
    assert sorted(report.requeued) == sorted(map(str, ids))
    assert sorted(_queued(app)) == sorted(f"order-{i}-issue" for i in ids)
    jobs()
    assert _statuses(app, ids) == {"complete": 3}


def test_a_batch_whose_transaction_fails_stores_each_order_on_its_own(app, jobs,
                                                                      issuer) -> None:
    """One order of the batch already has a certificate (unique ``order_id``): the
    batch's transaction fails, each order is then stored alone, and only that order goes
    without a second certificate."""
    from sqlalchemy import inspect as sa_inspect

    from app.services.batch_issuance import process_orders

    (earlier,) = _submit_batch(app, issuer, 1, prefix="earlier")
    jobs()
    ids = _submit_batch(app, issuer, 3)
    with app.app_context():
        source = db.session.scalar(select(Certificate).where(Certificate.order_id == earlier))
        values = {attr.key: getattr(source, attr.key)
                  for attr in sa_inspect(Certificate).column_attrs}
        db.session.add(Certificate(**{**values, "id": uuid.uuid4(), "order_id": ids[1],
                                      "serial_hex": "7e57" + uuid.uuid4().hex,
                                      "fingerprint_sha256": uuid.uuid4().hex * 2}))
        db.session.commit()
        counts = process_orders([str(i) for i in ids])
        per_order = dict(db.session.execute(
            select(Certificate.order_id, func.count(Certificate.id))
            .where(Certificate.order_id.in_(ids)).group_by(Certificate.order_id)).all())
        statuses = {o.id: o.status for o in db.session.scalars(
            select(Order).where(Order.id.in_(ids)))}
    assert counts["complete"] == 2
    assert per_order == {ids[0]: 1, ids[1]: 1, ids[2]: 1}
    assert (statuses[ids[0]], statuses[ids[2]]) == ("complete", "complete")
    assert statuses[ids[1]] == "processing"     # left to the sweeper, no second certificate
