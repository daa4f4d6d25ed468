"""The issuance job: claim a pending order, issue, complete — or fail with a reason."""
from __future__ import annotations

import logging
import uuid
from typing import Any

from rq.job import Job

from app.domain.orders import OrderStatus
from app.extensions import db
from app.models import Order
from app.models.base import utcnow
from app.pki.errors import PkiError
from app.providers.base import ProviderRejectedError, ProviderTransientError
from app.services import issuance
from app.services.jwe import JWEError
from app.services.order_flow import transition
from app.services.orders import PolicyRejected

log = logging.getLogger(__name__)
INTERNAL_ERROR = ("Issuance failed because of an internal error. The administrators can find "
                  "the details in the worker log.")


def issue_order(order_id: str) -> str:
    """Issue one order. Safe to run twice: only a ``pending`` order is claimed (by a
    conditional update), and completing it is one transaction guarded by a unique key.

    Transient provider trouble puts the order back to ``pending`` and re-raises, so RQ
    retries with backoff; permanent refusals fail the order at once with the reason."""
    key = uuid.UUID(order_id)
    order = db.session.get(Order, key)
    if order is None or order.status != OrderStatus.PENDING:
        return "skipped"
    if not transition(key, OrderStatus.PENDING, OrderStatus.PROCESSING,
                      "A worker started issuing", started_at=utcnow(),
                      attempts=Order.attempts + 1):
        db.session.rollback()
        return "skipped"
    db.session.commit()
    db.session.refresh(order)
    try:
        issued = issuance.issue(order)
    except ProviderTransientError as exc:
        db.session.rollback()
        transition(key, OrderStatus.PROCESSING, OrderStatus.PENDING,
                   f"Temporary problem, will retry: {exc}")
        db.session.commit()
        raise
    except PolicyRejected as exc:
        return _fail(key, "Refused: " + " ".join(v.message for v in exc.violations))
    except (ProviderRejectedError, PkiError) as exc:
        return _fail(key, str(exc))
    except JWEError as exc:
        return _fail(key, f"The key could not be encrypted to the courier's public key: {exc}")
    except Exception:
        log.exception("issuing order %s failed", order_id)
        return _fail(key, INTERNAL_ERROR)
    return "complete" if issued.certificate_id else "skipped"


def _fail(order_id: uuid.UUID, reason: str) -> str:
    db.session.rollback()
    transition(order_id, OrderStatus.PROCESSING, OrderStatus.FAILED, reason,
               finished_at=utcnow(), error=reason)
    db.session.commit()
    return "failed"


def on_issue_failure(job: Job, connection: Any, exc_type: type, exc: BaseException,
                     tb: Any) -> None:
    """RQ calls this after every failed attempt; only the last one fails the order."""
    if job.retries_left:
        return
    order_id = uuid.UUID(job.args[0])
    reason = f"Gave up after repeated temporary errors: {exc}"
    for current in (OrderStatus.PENDING, OrderStatus.PROCESSING):
        if transition(order_id, current, OrderStatus.FAILED, reason, finished_at=utcnow(),
                      error=reason):
            break
    db.session.commit()
