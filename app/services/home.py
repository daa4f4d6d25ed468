"""What the home page shows: a plain user their own work; admin roles the platform's state.

A plain user's home reads only rows they own (orders they requested, certificates they
own, alerts about their requests): no platform-wide number ever reaches it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from app.domain.orders import OrderStatus
from app.domain.roles import Permission
from app.extensions import db
from app.models import Certificate, CertificateAlert, CertificateAuthority, Domain, Order, User
from app.models.base import utcnow
from app.models.domains import DOMAIN_KIND_DNS

EXPIRY_WINDOW_DAYS = 30
RECENT = 5


@dataclass(frozen=True)
class UserHome:
    recent_orders: list[Order]
    expiring: list[Certificate]
    expiring_count: int
    open_alerts: list[CertificateAlert]
    open_alert_count: int
    domains: list[Domain]


@dataclass(frozen=True)
class PlatformHome:
    orders_today: dict[str, int]
    expiring_count: int
    failed_count: int
    recent_failures: list[Order]
    authorities: list[CertificateAuthority]
    active_domains: int
    open_alert_count: int
    since_midnight: datetime = field(default_factory=utcnow)


def shows_platform(user: User) -> bool:
    """Admin roles see the platform's counts; a plain user never does."""
    return user.can(Permission.VIEW_ALL_ORDERS)


def _expiring_soon(now: datetime):
    return (Certificate.revoked.is_(False), Certificate.not_after > now,
            Certificate.not_after <= now + timedelta(days=EXPIRY_WINDOW_DAYS))


def user_home(user: User) -> UserHome:
    now = utcnow()
    own_expiring = select(Certificate).where(Certificate.owner_user_id == user.id,
                                             *_expiring_soon(now))
    own_alerts = select(CertificateAlert).where(CertificateAlert.requester_user_id == user.id,
                                                CertificateAlert.acknowledged_at.is_(None))
    return UserHome(
        recent_orders=list(db.session.scalars(
            select(Order).where(Order.requested_by_user_id == user.id)
            .order_by(Order.submitted_at.desc(), Order.id.desc()).limit(RECENT))),
        expiring=list(db.session.scalars(
            own_expiring.order_by(Certificate.not_after).limit(RECENT))),
        expiring_count=_count(own_expiring),
        open_alerts=list(db.session.scalars(
            own_alerts.order_by(CertificateAlert.id.desc()).limit(RECENT))),
        open_alert_count=_count(own_alerts),
        domains=[d for d in user.domains if d.enabled])


def platform_home() -> PlatformHome:
    now = utcnow()
    midnight = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    today = {s.value: 0 for s in OrderStatus}
    today.update(dict(db.session.execute(
        select(Order.status, func.count(Order.id)).where(Order.submitted_at >= midnight)
        .group_by(Order.status)).all()))
    failed = select(Order).where(Order.status == OrderStatus.FAILED,
                                 Order.finished_at >= now - timedelta(hours=24))
    return PlatformHome(
        orders_today=today,
        expiring_count=_count(select(Certificate).where(*_expiring_soon(now))),
        failed_count=_count(failed),
        recent_failures=list(db.session.scalars(
            failed.order_by(Order.finished_at.desc()).limit(RECENT))),
        authorities=list(db.session.scalars(select(CertificateAuthority).order_by(
            CertificateAuthority.kind.desc(), CertificateAuthority.not_after))),
        active_domains=db.session.scalar(select(func.count(Domain.id)).where(
            Domain.enabled.is_(True))) or 0,
        open_alert_count=_count(select(CertificateAlert).where(
            CertificateAlert.acknowledged_at.is_(None))),
        since_midnight=midnight)


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0


def example_domain(user: User) -> str:
    """A domain to show in examples and placeholders: one of the user's own (a plain
    user's first assigned DNS domain; for admin roles the first active one), else the
    documentation domain ``example.com``."""
    if not user.is_admin:
        names = [d.name for d in user.domains if d.enabled and d.kind == DOMAIN_KIND_DNS]
        return names[0] if names else "example.com"
    return db.session.scalar(select(Domain.name).where(
        Domain.enabled.is_(True), Domain.kind == DOMAIN_KIND_DNS)
        .order_by(Domain.name).limit(1)) or "example.com"
