"""What the order jobs do (each job is one call into this module).

- ``process_order``: claim a ``pending`` order (conditional update), send it to its
  provider, and complete it, fail it, or leave it ``processing`` waiting on the CA.
- ``check_order``: continue an order waiting on its CA. Check number ``n`` is claimed by
  a conditional update ``checks = n → n + 1`` that also leases ``next_check_at``, so a
  duplicate or late job changes nothing, and a worker lost mid-check leaves a stale
  ``next_check_at`` the sweeper re-enqueues. An order with an ``external_id`` is never
  submitted to its CA again.
- Transient trouble: before the CA has the order, the order goes back to ``pending`` and
  a new issuance job ``order-<id>-issue-<n>`` is scheduled at the CA's Retry-After (or a
  backoff); while waiting on the CA, the next check is scheduled at the CA's Retry-After
  (or a backoff), until PROVIDER_MAX_WAIT_SECONDS have passed since submission.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from app.domain.orders import OrderStatus
from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import Order
from app.models.base import utcnow
from app.pki.errors import PkiError
from app.pki.lint import LintRefused
from app.providers.base import ProviderRejectedError, ProviderTransientError
from app.services import issuance
from app.services.issuance import Waiting
from app.services.jwe import JWEError
from app.services.order_flow import note, transition
from app.services.orders import ISSUE_RETRY_INTERVALS, PolicyRejected, schedule_issue_retry

log = logging.getLogger(__name__)
INTERNAL_ERROR = ("Issuance failed because of an internal error. The administrators can find "
                  "the details in the worker log.")
CHECK_LEASE_SECONDS = 180          # longer than the check job's timeout
CHECK_JOB_TIMEOUT = 120
TRANSIENT_BACKOFF_SECONDS = 30


def check_job_id(order_id: uuid.UUID | str, checks: int) -> str:
    return f"order-{order_id}-check-{checks}"


def schedule_check(order_id: uuid.UUID, checks: int, delay_seconds: float) -> bool:
    return enqueue("check_order", check_job_id(order_id, checks), str(order_id), checks,
                   description=f"check order {order_id} with its CA (#{checks})",
                   delay_seconds=max(delay_seconds, 0), job_timeout=CHECK_JOB_TIMEOUT)


def _schedule(order_id: uuid.UUID, waiting: Waiting) -> None:
    delay = (waiting.next_check_at - utcnow()).total_seconds()
    if not schedule_check(order_id, waiting.checks, delay):
        log.warning("order %s: next check not queued (Redis down); the sweeper will", order_id)


# ---- issuance ------------------------------------------------------------------------------

def process_order(order_id: str) -> str:
    """Issue one order. Safe to run twice: only a ``pending`` order is claimed, and
    completing it is one transaction guarded by a unique key.

    Transient provider trouble puts the order back to ``pending`` and re-raises, so RQ
    retries with backoff; permanent refusals fail the order at once with the reason."""
    key = uuid.UUID(order_id)
    # Claimed first (the conditional UPDATE finds a missing or non-pending order as well),
    # then read once, as claimed.
    if not transition(key, OrderStatus.PENDING, OrderStatus.PROCESSING,
                      "A worker started issuing", started_at=utcnow(),
                      attempts=Order.attempts + 1):
        db.session.rollback()
        return "skipped"
    db.session.commit()
    order = db.session.get(Order, key)
    if order is None:          # deleted between the claim and now
        return "skipped"
    try:
        outcome = issuance.submit(order)
    except ProviderTransientError as exc:
        db.session.rollback()
        if db.session.get(Order, key).external_id:   # the CA has it: check, never resubmit
            return _check_later(key, exc)
        return _retry_later(key, exc)
    except Exception as exc:
        return fail_for(key, order_id, exc)
    if isinstance(outcome, Waiting):
        _schedule(key, outcome)
        return "waiting"
    return "complete" if outcome.certificate_id else "skipped"


def _retry_later(order_id: uuid.UUID, exc: ProviderTransientError) -> str:
    """The CA did not take the order (429, 5xx, unreachable): back to ``pending`` and a
    new issuance job ``order-<id>-issue-<attempt>`` at the CA's Retry-After (or the
    backoff), until the attempts run out. The orphan guard is cleared: nothing is at the
    CA, so sending it again is safe."""
    order = db.session.get(Order, order_id)
    db.session.refresh(order)
    attempt = order.attempts
    if attempt > len(ISSUE_RETRY_INTERVALS):
        return _fail(order_id, f"Gave up after {attempt} attempts with temporary errors: "
                               f"{exc}")
    delay = exc.retry_after if exc.retry_after is not None \
        else ISSUE_RETRY_INTERVALS[attempt - 1]
    when = utcnow() + timedelta(seconds=delay)
    transition(order_id, OrderStatus.PROCESSING, OrderStatus.PENDING,
               f"Temporary problem, will retry at {when:%H:%M:%S} UTC: {exc}",
               ca_submission_started_at=None)
    db.session.commit()
    if not schedule_issue_retry(order_id, attempt, delay):
        log.warning("order %s: retry not queued (Redis down); the sweeper will", order_id)
    return "retrying"


def give_up(order_id: str, exc: BaseException) -> None:
    """After RQ's last retry: fail the order (from whichever state the retry left)."""
    key = uuid.UUID(order_id)
    reason = f"Gave up after repeated temporary errors: {exc}"
    for current in (OrderStatus.PENDING, OrderStatus.PROCESSING):
        if transition(key, current, OrderStatus.FAILED, reason, finished_at=utcnow(),
                      error=reason):
            break
    db.session.commit()


# ---- waiting on a CA ------------------------------------------------------------------------

def check_order(order_id: str, checks: int) -> str:
    key = uuid.UUID(order_id)
    claimed = db.session.execute(update(Order).where(
        Order.id == key, Order.status == OrderStatus.PROCESSING, Order.checks == checks,
        Order.external_id.is_not(None)
    ).values(checks=checks + 1,
             next_check_at=utcnow() + timedelta(seconds=CHECK_LEASE_SECONDS))
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not claimed:
        return "skipped"
    order = db.session.get(Order, key)
    db.session.refresh(order)
    try:
        outcome = issuance.resume(order)
    except ProviderTransientError as exc:
        db.session.rollback()
        return _check_later(key, exc)
    except Exception as exc:
        return fail_for(key, order_id, exc)
    if isinstance(outcome, Waiting):
        if _waited_too_long(order):
            return _fail(key, "The CA did not issue the certificate in time; the order was "
                              "given up. Resubmit it, or check the order at the CA.")
        _schedule(key, outcome)
        return "waiting"
    return "complete" if outcome.certificate_id else "skipped"


def _waited_too_long(order: Order) -> bool:
    limit = float(current_app.config.get("PROVIDER_MAX_WAIT_SECONDS", 7 * 86400))
    return (utcnow() - order.submitted_at).total_seconds() > limit


def _check_later(order_id: uuid.UUID, exc: ProviderTransientError) -> str:
    order = db.session.get(Order, order_id)
    if order is None or order.status != OrderStatus.PROCESSING:
        return "skipped"
    if _waited_too_long(order):
        return _fail(order_id, f"Gave up waiting for the CA: {exc}")
    delay = exc.retry_after or TRANSIENT_BACKOFF_SECONDS
    next_check = utcnow() + timedelta(seconds=delay)
    db.session.execute(update(Order).where(Order.id == order_id).values(
        next_check_at=next_check).execution_options(synchronize_session=False))
    note(order_id, OrderStatus.PROCESSING, f"Temporary problem with the CA, next check "
                                           f"{next_check:%H:%M:%S} UTC: {exc}")
    db.session.commit()
    db.session.refresh(order)
    _schedule(order_id, Waiting(next_check_at=next_check, checks=order.checks))
    return "waiting"


def fail_for(order_id: uuid.UUID, raw_id: str, exc: Exception) -> str:
    """Fail a claimed order for ``exc`` with the reason its kind of refusal gives (an
    unexpected error is logged and shown as an internal error)."""
    if isinstance(exc, PolicyRejected):
        return _fail(order_id, "Refused: " + " ".join(v.message for v in exc.violations))
    if isinstance(exc, ProviderRejectedError | PkiError):
        refused = exc if isinstance(exc, LintRefused) else exc.__cause__
        findings = [f.to_dict() for f in refused.findings] \
            if isinstance(refused, LintRefused) else None
        return _fail(order_id, str(exc), lint_findings=findings)
    if isinstance(exc, JWEError):
        return _fail(order_id, "The key could not be encrypted to the courier's public key: "
                               f"{exc}")
    log.exception("issuing order %s failed", raw_id, exc_info=exc)
    return _fail(order_id, INTERNAL_ERROR)


def _fail(order_id: uuid.UUID, reason: str,
          lint_findings: list[dict[str, str]] | None = None) -> str:
    """``lint_findings``: what pkilint refused before signing, shown on the order page."""
    db.session.rollback()
    transition(order_id, OrderStatus.PROCESSING, OrderStatus.FAILED, reason,
               finished_at=utcnow(), error=reason, next_check_at=None,
               pending_key_encrypted=None, lint_findings=lint_findings)
    db.session.commit()
    return "failed"
