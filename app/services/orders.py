"""Orders: submission through the one gate, and reading them with ownership checks."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace

from app.domain.labels import requested_by_text
from app.domain.policy import Violation
from app.domain.providers import profile_for
from app.domain.request import CertificateRequest
from app.domain.roles import Permission
from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import Order, OrderEvent, Provider, User
from app.services import alerts, audit
from app.services.errors import NotFound, ValidationFailed
from app.services.intake import Assessment, assess
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
    request = with_default_provider(request)
    assessment = assess(request, requester)
    incomplete = check_complete_for_provider(assessment.request)
    if incomplete:
        assessment = replace(assessment, violations=(*assessment.violations, *incomplete))
    if assessment.blocked:
        alerts.record_policy_alerts(assessment.violations, request_key=request_key,
                                    requester=requester, common_name=request.common_name)
        db.session.commit()
        raise PolicyRejected(assessment.hard)
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
    who = requested_by_text(requester.label, requester.kind, pathway)
    order.events.append(OrderEvent(from_status=None, to_status="pending",
                                   message=f"Submitted by {who}"
                                   + (f" · {timeline_note}" if timeline_note else "")))
    db.session.add(order)
    db.session.flush()
    alerts.record_policy_alerts(assessment.soft, request_key=request_key, requester=requester,
                                common_name=final.common_name, order_id=order.id)
    alerts.link_to_order(request_key, order.id)
    audit.record("order.submit", resource_type="order", resource_id=order.id,
                 actor_label=requester.display, details={
                     "common_name": order.common_name, "pathway": pathway,
                     "warnings": [v.code for v in assessment.soft]})
    if before_commit is not None:
        try:
            before_commit(order)
        except Exception:
            db.session.rollback()
            raise
    db.session.commit()
    if not enqueue_issue(order):
        note(order.id, order.status, "The job queue could not be reached; the order will be "
             "picked up automatically when it is back.")
        db.session.commit()
    return order, assessment


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


def get_order_for(order_id: str, user: User) -> Order:
    """The order, if ``user`` may see it (own orders; admins all) — else NotFound, so an
    id of someone else's order reveals nothing."""
    order = by_uuid(Order, order_id)
    if order is None or not (user.can(Permission.VIEW_ALL_ORDERS)
                             or order.requested_by_user_id == user.id):
        raise NotFound("No such order.", code="order.not_found")
    return order
