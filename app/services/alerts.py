"""CertificateAlerts for policy violations: one per request and rule, however often the
requester retries the step."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import or_, select, update

from app.domain.policy import Violation
from app.domain.roles import Permission
from app.extensions import db
from app.models import CertificateAlert, User
from app.models.alerts import ALERT_POLICY_HARD_FAIL, ALERT_POLICY_SOFT_FAIL
from app.models.base import utcnow
from app.services import audit
from app.services.errors import NotFound
from app.services.requesters import Requester


def record_policy_alerts(violations: Iterable[Violation], *, request_key: str,
                         requester: Requester, common_name: str,
                         order_id: uuid.UUID | None = None) -> int:
    """Add an alert for each policy violation not yet recorded for ``request_key``.
    Joins the caller's transaction; returns how many were new."""
    wanted = {}
    for v in violations:
        if v.policy is None:
            continue
        kind = ALERT_POLICY_HARD_FAIL if v.severity == "hard" else ALERT_POLICY_SOFT_FAIL
        wanted.setdefault((kind, v.policy, v.rule or v.code), v)
    if not wanted:
        return 0
    existing = {tuple(row) for row in db.session.execute(
        select(CertificateAlert.type, CertificateAlert.policy_name, CertificateAlert.rule)
        .where(CertificateAlert.request_key == request_key)).all()}
    added = 0
    for (kind, policy, rule), v in wanted.items():
        if (kind, policy, rule) in existing:
            continue
        db.session.add(CertificateAlert(
            type=kind, request_key=request_key, policy_name=policy, rule=rule, code=v.code,
            expected=v.expected, actual=v.actual, message=v.message,
            common_name=common_name[:253], requester_user_id=requester.user_id,
            requester_label=requester.display[:254], order_id=order_id))
        added += 1
    return added


def link_to_order(request_key: str, order_id: uuid.UUID) -> None:
    db.session.execute(update(CertificateAlert).where(
        CertificateAlert.request_key == request_key, CertificateAlert.order_id.is_(None)
    ).values(order_id=order_id))


def link_to_certificate(order_id: uuid.UUID, certificate_id: uuid.UUID) -> None:
    """At issuance, in the certificate's transaction: the order's alerts (soft warnings
    recorded at submit) now belong to the certificate too."""
    db.session.execute(update(CertificateAlert).where(
        CertificateAlert.order_id == order_id, CertificateAlert.certificate_id.is_(None)
    ).values(certificate_id=certificate_id))


def link_to_certificates(certificates: dict[uuid.UUID, uuid.UUID]) -> None:
    """:func:`link_to_certificate` for many orders (order id → certificate id), in the
    caller's transaction: one query finds the orders that have alerts waiting (most
    have none)."""
    if not certificates:
        return
    waiting = set(db.session.scalars(select(CertificateAlert.order_id).distinct().where(
        CertificateAlert.order_id.in_(list(certificates)),
        CertificateAlert.certificate_id.is_(None))))
    for order_id in waiting:
        link_to_certificate(order_id, certificates[order_id])


def alerts_for(*, order_id: uuid.UUID | None = None,
               certificate_id: uuid.UUID | None = None) -> list[CertificateAlert]:
    """Every alert linked to the order or the certificate (acknowledged ones too), oldest
    first. The caller has already checked that the viewer may see that object."""
    conditions = []
    if order_id is not None:
        conditions.append(CertificateAlert.order_id == order_id)
    if certificate_id is not None:
        conditions.append(CertificateAlert.certificate_id == certificate_id)
    if not conditions:
        return []
    return list(db.session.scalars(select(CertificateAlert).where(or_(*conditions))
                                   .order_by(CertificateAlert.id)))


def visible_alerts(user: User, *, include_acknowledged: bool, limit: int, before: int | None):
    query = select(CertificateAlert).order_by(CertificateAlert.id.desc()).limit(limit + 1)
    if not user.can(Permission.VIEW_ALL_ORDERS):
        query = query.where(CertificateAlert.requester_user_id == user.id)
    if not include_acknowledged:
        query = query.where(CertificateAlert.acknowledged_at.is_(None))
    if before:
        query = query.where(CertificateAlert.id < before)
    rows = list(db.session.scalars(query))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def acknowledge(alert_id: int, user: User) -> CertificateAlert:
    """Mark an alert the user may see as acknowledged (once), with an audit event."""
    alert = db.session.get(CertificateAlert, alert_id)
    if alert is None or not (user.can(Permission.VIEW_ALL_ORDERS)
                             or alert.requester_user_id == user.id):
        raise NotFound("No such alert.", code="alert.not_found")
    if alert.acknowledged_at is None:
        alert.acknowledged_at = utcnow()
        alert.acknowledged_by_id = user.id
        audit.record("alert.acknowledge", resource_type="alert", resource_id=alert.id,
                     actor=user, details={"type": alert.type, "policy": alert.policy_name,
                                          "rule": alert.rule, "common_name": alert.common_name,
                                          "requester": alert.requester_label})
        db.session.commit()
    return alert


def commit() -> None:
    """Alerts recorded by a view outside another use case (the CSR check)."""
    db.session.commit()
