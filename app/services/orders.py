"""Orders: submission through the one gate, and reading them with ownership checks."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select

from app.domain.labels import requested_by_text
from app.domain.policy import Violation
from app.domain.providers import profile_for
from app.domain.request import CertificateRequest
from app.domain.roles import Permission
from app.extensions import db
from app.jobs.enqueue import enqueue
from app.jobs.queue import enqueue_many
from app.models import AuditEvent, CertificateAlert, Order, OrderEvent, Provider, User
from app.services import alerts, audit
from app.services.bulk_rows import insert_new
from app.services.errors import NotFound, ServiceError, ValidationFailed
from app.services.intake import Assessment, assess, batch_preloaded
from app.services.issuers import check_complete_for_provider, with_default_provider
from app.services.lookup import by_uuid, kept_by_uuid
from app.services.order_flow import note
from app.services.requesters import Requester


class PolicyRejected(ValidationFailed):
    """The request breaks a rule: nothing was created. ``violations`` lists every reason."""

    def __init__(self, violations: tuple[Violation, ...]) -> None:
        first = violations[0].message if violations else "The request was refused."
        super().__init__(first, code=violations[0].code if violations else "request.refused")
        self.violations = violations


def submit_order(request: CertificateRequest, requester: Requester, *, pathway: str,
                 request_key: str, before_commit: Callable[[Order], None] | None = None,
                 csr_pem: str | None = None, timeline_note: str | None = None
                 ) -> tuple[Order, Assessment]:
    """Re-assess ``request`` (the real gate, whatever a channel checked before) and store a
    pending order. Hard violations raise PolicyRejected after recording their alerts;
    soft ones are recorded and linked to the order. ``before_commit`` runs inside the same
    transaction (e.g. to claim a draft); if it raises, nothing is stored. ``csr_pem`` is
    the requester's CSR (CSR channels): the worker certifies its key instead of making one.
    ``timeline_note`` is added to the first timeline entry (e.g. what a renewal renews)."""
    assessment = judge_order(request, requester)
    if assessment.blocked:
        refused = _refuse(assessment, requester, request_key, request.common_name)
        db.session.commit()
        raise refused
    order = _new_order(assessment, requester, pathway=pathway, csr_pem=csr_pem,
                       timeline_note=timeline_note)
    db.session.add(order)
    db.session.flush()
    _record_submission(order, assessment, requester, pathway=pathway, request_key=request_key)
    alerts.link_to_order(request_key, order.id)
    if before_commit is not None:
        try:
            before_commit(order)
        except Exception:
            db.session.rollback()
            raise
    db.session.commit()
    if not enqueue_issue(order):
        note(order.id, order.status, QUEUE_DOWN_NOTE)
        db.session.commit()
    return order, assessment


QUEUE_DOWN_NOTE = ("The job queue could not be reached; the order will be picked up "
                   "automatically when it is back.")


def judge_order(request: CertificateRequest, requester: Requester) -> Assessment:
    """The gate of every submission: ``request`` with its default provider, assessed, and
    refused as incomplete if it lacks what its provider needs (``blocked`` says so)."""
    request = with_default_provider(request)
    assessment = assess(request, requester)
    incomplete = check_complete_for_provider(assessment.request)
    if incomplete:
        assessment = replace(assessment, violations=(*assessment.violations, *incomplete))
    return assessment


def _refuse(assessment: Assessment, requester: Requester, request_key: str,
            common_name: str) -> PolicyRejected:
    """Record the policy alerts of a blocked request (the caller commits them) and return
    the error to raise."""
    alerts.record_policy_alerts(assessment.violations, request_key=request_key,
                                requester=requester, common_name=common_name)
    return PolicyRejected(assessment.hard)


def _new_order(assessment: Assessment, requester: Requester, *, pathway: str,
               csr_pem: str | None, timeline_note: str | None = None,
               order_id: uuid.UUID | None = None) -> Order:
    """The pending order of an accepted assessment, with its first timeline entry (not
    yet added to the session)."""
    final = assessment.request
    provider = kept_by_uuid(Provider, final.provider_id)
    if provider is None:  # assess() reports an unknown provider; a missing one is a bug
        raise ValidationFailed("No certificate provider was chosen.",
                               code="provider.unavailable", field="provider_id")
    order = Order(type=profile_for(provider.type, provider.config).order_type,
                  pathway=pathway, status="pending", common_name=final.common_name or
                  (final.ip_addresses[0] if final.ip_addresses else ""),
                  request=final.to_dict(), provider_id=provider.id,
                  requested_by_user_id=requester.user_id, requested_by_label=requester.label,
                  requested_by_kind=requester.kind, csr_pem=csr_pem,
                  requested_by_courier_id=uuid.UUID(requester.id)
                  if requester.kind == "courier" else None)
    order.provider = provider   # read by enqueue_issues, also on a batch's transient order
    if order_id is not None:
        order.id = order_id
    who = requested_by_text(requester.label, requester.kind, pathway)
    order.events.append(OrderEvent(from_status=None, to_status="pending",
                                   message=f"Submitted by {who}"
                                   + (f" · {timeline_note}" if timeline_note else "")))
    return order


def _first_event(order: Order) -> OrderEvent:
    """The order's first timeline entry (``_new_order`` made it), pointing at the order by
    its id for a batch's insert."""
    event = order.events[0]
    event.order_id = order.id
    return event


def _record_submission(order: Order, assessment: Assessment, requester: Requester, *,
                       pathway: str, request_key: str) -> None:
    """The soft-violation alerts linked to the order and the ``order.submit`` audit event
    (``order.id`` must be set)."""
    _record_warnings(order, assessment, requester, request_key)
    _audit_submission(order, assessment, requester, pathway)


def _record_warnings(order: Order, assessment: Assessment, requester: Requester,
                     request_key: str) -> None:
    alerts.record_policy_alerts(assessment.soft, request_key=request_key, requester=requester,
                                common_name=assessment.request.common_name, order_id=order.id)


def _audit_submission(order: Order, assessment: Assessment, requester: Requester,
                      pathway: str) -> None:
    db.session.add(_submission_event(order, assessment, requester, pathway))


def _submission_event(order: Order, assessment: Assessment, requester: Requester,
                      pathway: str) -> AuditEvent:
    """The ``order.submit`` audit event (not added to the session)."""
    return audit.new_event("order.submit", resource_type="order", resource_id=order.id,
                           actor_label=requester.display, details={
                               "common_name": order.common_name, "pathway": pathway,
                               "warnings": [v.code for v in assessment.soft]})


# ---- many requests of one requester in one transaction --------------------------------------

@dataclass(frozen=True)
class OrderDraft:
    """One request for :func:`submit_orders`, as :func:`submit_order` takes it.

    ``claim`` adds rows of the order's transaction (no flush; e.g. an idempotency key).
    ``earlier_alerts``: alerts may already exist under ``request_key`` (an earlier refused
    attempt with the same key) and are linked to the order, as ``submit_order`` does;
    False for a key made up for this request, which nothing can have used."""
    request: CertificateRequest
    request_key: str
    csr_pem: str | None = None
    claim: Callable[[Order], None] | None = None
    earlier_alerts: bool = True


def submit_orders(drafts: Sequence[OrderDraft], requester: Requester, *, pathway: str
                  ) -> list[tuple[Order, Assessment] | ServiceError]:
    """:func:`submit_order` for many requests of one requester, as one transaction: each
    draft through the same gate (a refusal records its alerts and becomes that draft's
    outcome — PolicyRejected — without stopping the others), then the accepted orders,
    their first timeline entries and audit events written by one flush (multi-row
    INSERTs), their soft-violation alerts and claims by a second one when there are any,
    one commit, and the issuance jobs queued in one Redis round trip. What the requests
    share (policy index, domain rows, issuer choices) is read once
    (``intake.batch_preloaded``). One outcome per
    draft, in order. A flush that fails (e.g. a claim's unique constraint) rolls
    everything back and raises."""
    outcomes: list[tuple[Order, Assessment] | ServiceError] = []
    accepted: list[tuple[Order, Assessment, OrderDraft]] = []
    with batch_preloaded(draft.request for draft in drafts):
        for draft in drafts:
            assessment = judge_order(draft.request, requester)
            if assessment.blocked:
                outcomes.append(_refuse(assessment, requester, draft.request_key,
                                        draft.request.common_name))
                continue
            try:
                order = _new_order(assessment, requester, pathway=pathway,
                                   csr_pem=draft.csr_pem, order_id=uuid.uuid4())
            except ServiceError as error:
                outcomes.append(error)
                continue
            accepted.append((order, assessment, draft))
            outcomes.append((order, assessment))
    session = db.session()
    expire_on_commit = session.expire_on_commit
    try:
        # The orders, their first timeline entries and their audit events: one INSERT
        # executed for many rows each, outside the unit of work (``bulk_rows``; the
        # objects stay transient: the answer reads only what was set on them). Rows
        # added to the session afterwards (soft-violation alerts, claims such as
        # idempotency keys) point at the orders by a bare foreign key and follow in a
        # flush.
        orders = [order for order, _, _ in accepted]
        insert_new(orders)
        insert_new([_first_event(order) for order in orders])
        insert_new([_submission_event(order, assessment, requester, pathway)
                    for order, assessment, _ in accepted])
        with session.no_autoflush:
            for order, assessment, draft in accepted:
                _record_warnings(order, assessment, requester, draft.request_key)
                if draft.claim is not None:
                    draft.claim(order)
        if session.new:
            session.flush()
        _link_earlier_alerts({draft.request_key: order.id for order, _, draft in accepted
                              if draft.earlier_alerts})
        # What was just written is what the answer shows: reading every order back after
        # the commit (one SELECT each) would only tell what this transaction wrote.
        session.expire_on_commit = False
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.expire_on_commit = expire_on_commit
    if not enqueue_issues(orders):
        for order in orders:
            note(order.id, order.status, QUEUE_DOWN_NOTE)
        db.session.commit()
    return outcomes


ISSUE_RETRY_INTERVALS = [10, 30, 90]


def issue_job_id(order_id: uuid.UUID | str) -> str:
    return f"order-{order_id}-issue"


def retry_job_id(order_id: uuid.UUID | str, attempt: int) -> str:
    """The issuance job rescheduled after attempt ``attempt`` met a temporary error."""
    return f"order-{order_id}-issue-{attempt}"


def schedule_issue_retry(order_id: uuid.UUID, attempt: int, delay_seconds: float) -> bool:
    return enqueue("issue_order", retry_job_id(order_id, attempt), str(order_id),
                   description=f"issue order {order_id} (retry {attempt})", job_timeout=120,
                   delay_seconds=max(delay_seconds, 0.001),
                   retry_intervals=ISSUE_RETRY_INTERVALS, on_failure="issue_order_failed")


def enqueue_issue(order: Order) -> bool:
    """Hand the order to the workers (job id derived from the order: at most one queued)."""
    return enqueue("issue_order", issue_job_id(order.id), str(order.id),
                   description=f"issue order {order.id}", job_timeout=120,
                   retry_intervals=ISSUE_RETRY_INTERVALS, on_failure="issue_order_failed")


def _link_earlier_alerts(orders_by_key: dict[str, uuid.UUID]) -> None:
    """``alerts.link_to_order`` for each request key that has unlinked alerts (one query
    finds them, instead of an UPDATE per order)."""
    if not orders_by_key:
        return
    waiting = set(db.session.scalars(select(CertificateAlert.request_key).distinct().where(
        CertificateAlert.request_key.in_(sorted(orders_by_key)),
        CertificateAlert.order_id.is_(None))))
    for request_key in sorted(waiting):
        alerts.link_to_order(request_key, orders_by_key[request_key])


def enqueue_issues(orders: Sequence[Order]) -> bool:
    """:func:`enqueue_issue` for orders made in the transaction just committed, in one
    Redis round trip (their job ids are new, so nothing can be queued under them yet).
    Local PKI orders go in batch jobs of up to ``batch_issuance.BATCH_SIZE``
    (``issue_orders``: one job signs and stores them together); each order's own job id
    is kept as an alias of its batch job, so the sweeper sees it queued."""
    from app.services.batch_issuance import BATCH_SIZE, takes_batch

    local = [order for order in orders if takes_batch(order)]
    others = [order for order in orders if not takes_batch(order)]
    batches = [local[i:i + BATCH_SIZE] for i in range(0, len(local), BATCH_SIZE)]
    batch_ids = [f"orders-batch-{uuid.uuid4().hex}" for _ in batches]
    queued = enqueue_many("issue_orders", [
        (job_id, tuple(str(order.id) for order in batch),
         f"issue {len(batch)} orders from {batch[0].id}")
        for job_id, batch in zip(batch_ids, batches, strict=True)], job_timeout=600,
        aliases={issue_job_id(order.id): job_id
                 for job_id, batch in zip(batch_ids, batches, strict=True)
                 for order in batch})
    return enqueue_many("issue_order", [
        (issue_job_id(order.id), (str(order.id),), f"issue order {order.id}")
        for order in others], job_timeout=120, retry_intervals=ISSUE_RETRY_INTERVALS,
        on_failure="issue_order_failed") and queued


def get_order_for(order_id: str, user: User) -> Order:
    """The order, if ``user`` may see it (own orders; admins all) — else NotFound, so an
    id of someone else's order reveals nothing."""
    order = by_uuid(Order, order_id)
    if order is None or not (user.can(Permission.VIEW_ALL_ORDERS)
                             or order.requested_by_user_id == user.id):
        raise NotFound("No such order.", code="order.not_found")
    return order
