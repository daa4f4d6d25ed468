"""The sweeper: the database is the source of truth, Redis only carries work.

Finds orders whose job was lost — Redis flushed or down at submit, a worker killed
mid-job — and re-enqueues them, or fails them with a clear reason after too many lost
attempts. An order waiting on an external CA (``external_id`` set) is never sent to its
CA again: when its check is overdue, the sweeper re-enqueues the check. Run by the worker
on a schedule and by ``flask orders sweep``."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.domain.orders import OrderStatus
from app.extensions import db
from app.jobs.queue import discard_job, job_alias, job_is_live
from app.models import Order
from app.models.base import utcnow
from app.services import courier_keys, pki
from app.services.order_flow import transition
from app.services.order_processing import check_job_id, schedule_check
from app.services.orders import enqueue_issue, issue_job_id, retry_job_id

MAX_LOST_ATTEMPTS = 3


@dataclass
class SweepReport:
    requeued: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    checks_requeued: list[str] = field(default_factory=list)
    cas_requeued: int = 0
    keys_expired: int = 0  # courier keys (JWE) not fetched in time, deleted

    def as_dict(self) -> dict[str, object]:
        return {"requeued": self.requeued, "recovered": self.recovered, "failed": self.failed,
                "checks_requeued": self.checks_requeued, "cas_requeued": self.cas_requeued,
                "keys_expired": self.keys_expired}


def sweep(*, pending_grace: float | None = None,
          processing_timeout: float | None = None) -> SweepReport:
    """One pass. ``pending_grace``: a pending order younger than this is left to its job;
    ``processing_timeout``: a processing order older than this has lost its worker (the
    issuance job times out well before). Defaults come from the app config."""
    config = current_app.config
    grace = timedelta(seconds=config["SWEEP_PENDING_GRACE_SECONDS"]
                      if pending_grace is None else pending_grace)
    timeout = timedelta(seconds=config["SWEEP_PROCESSING_TIMEOUT_SECONDS"]
                        if processing_timeout is None else processing_timeout)
    now = utcnow()
    report = SweepReport()
    for order in db.session.scalars(select(Order).where(
            Order.status == OrderStatus.PROCESSING, Order.external_id.is_(None),
            Order.started_at <= now - timeout)):
        _recover(order, report)
    for order in db.session.scalars(select(Order).where(
            Order.status == OrderStatus.PROCESSING, Order.external_id.is_not(None),
            Order.next_check_at <= now - grace)):
        _requeue_check_if_lost(order, report)
    for order in db.session.scalars(select(Order).where(
            Order.status == OrderStatus.PENDING, Order.submitted_at <= now - grace)):
        _requeue_if_lost(order, report)
    report.cas_requeued = pki.requeue_pending()
    report.keys_expired = courier_keys.expire_undelivered()
    return report


def _job_id(order: Order) -> str:
    return issue_job_id(order.id)


def _recover(order: Order, report: SweepReport) -> None:
    if order.ca_submission_started_at is not None:
        # Orphan guard: the lost worker had started sending the order to its CA, which
        # may hold it now. Sending it again could order (and pay for) it twice.
        reason = (f"The worker stopped while sending this order to {order.provider.name}, "
                  "so the CA may have received it. It is not sent again automatically: "
                  "check the CA account for the order before resubmitting.")
        if transition(order.id, OrderStatus.PROCESSING, OrderStatus.FAILED, reason,
                      finished_at=utcnow(), error=reason):
            report.failed.append(str(order.id))
        db.session.commit()
        return
    if order.attempts >= MAX_LOST_ATTEMPTS:
        reason = (f"The issuing worker stopped {order.attempts} times while processing this "
                  "order; giving up. Resubmit it, and ask an administrator to check the "
                  "workers.")
        if transition(order.id, OrderStatus.PROCESSING, OrderStatus.FAILED, reason,
                      finished_at=utcnow(), error=reason):
            report.failed.append(str(order.id))
        db.session.commit()
        return
    moved = transition(order.id, OrderStatus.PROCESSING, OrderStatus.PENDING,
                       "The worker processing this order was lost; retrying")
    db.session.commit()
    if moved:
        discard_job(_job_id(order))
        enqueue_issue(order)
        report.recovered.append(str(order.id))


def _requeue_if_lost(order: Order, report: SweepReport) -> None:
    retry = retry_job_id(order.id, order.attempts) if order.attempts else None
    batch = job_alias(_job_id(order))      # queued in a batch job (orders.enqueue_issues)
    if job_is_live(_job_id(order)) or (retry is not None and job_is_live(retry)) \
            or (batch is not None and job_is_live(batch)):
        return
    discard_job(_job_id(order))
    if retry is not None:
        discard_job(retry)
    if enqueue_issue(order):
        report.requeued.append(str(order.id))


def _requeue_check_if_lost(order: Order, report: SweepReport) -> None:
    """The check was due a while ago and nothing moved it: its job was lost (Redis
    flushed, worker killed mid-check). Check again now — never submit again."""
    job_id = check_job_id(order.id, order.checks)
    if job_is_live(job_id):
        return
    discard_job(job_id)
    if schedule_check(order.id, order.checks, 0):
        report.checks_requeued.append(str(order.id))
