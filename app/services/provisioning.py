"""Certificate profiles become orders: the first one when the profile is created, a
renewal whenever its certificate enters the renewal window (the ``renewals`` task).

A profile's template goes through the one intake pipeline (``intake.request_from_values``
→ ``intake.assess`` → ``orders.submit_order``) with the target system as requester
(pathway ``target_system``, shown as "Target system <name>"). Each order is made once:
``CertificateProfile.order_key`` (``initial`` / ``renew:<certificate id>``) is claimed by
a conditional update inside the order's own transaction, so two runs of the task — or the
task and a click — cannot both make it."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update

from app.domain.defaults import with_defaults
from app.domain.policy import Violation
from app.domain.request import CertificateRequest
from app.domain.targets import renewal_due
from app.extensions import db
from app.models import Certificate, CertificateProfile, Order, OrderEvent, TargetSystem, User
from app.models.base import utcnow
from app.services import alerts, audit, deployments
from app.services.intake import SUBJECT_FIELDS, assess, request_from_values
from app.services.issuers import with_default_provider
from app.services.orders import PolicyRejected, submit_order
from app.services.requesters import Requester
from app.services.target_systems import check_renew_before, current_certificate, new_profile

log = logging.getLogger(__name__)

PATHWAY = "target_system"
REQUESTER_KIND = "target_system"
TEMPLATE_FIELDS = ("common_name", "sans", "algorithm", "digest", "validity_days",
                   "provider_id", "issuer_id", "key_usage", "extended_key_usage",
                   *SUBJECT_FIELDS)
INITIAL = "initial"


class ProfileOrderRefused(Exception):
    """The order's claim was taken by another run (the order exists already)."""


def requester_for_target(target: TargetSystem) -> Requester:
    """A target system asks like an administrator: any active domain (the policies and
    the active-domain scope still apply)."""
    return Requester(kind=REQUESTER_KIND, id=str(target.id), label=target.name)


def requester_for_order(order: Order) -> Requester:
    """For the worker's re-assessment: the order's target must still be enabled."""
    profile = db.session.get(CertificateProfile, order.certificate_profile_id) \
        if order.certificate_profile_id else None
    if profile is None or not profile.target.enabled or not profile.enabled:
        raise PolicyRejected((Violation(
            code="requester.inactive", field=None, message="The target system or its "
            "certificate profile was disabled or removed after the order was made, so the "
            "certificate is not issued."),))
    return requester_for_target(profile.target)


def template_from_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Only the template's fields, empty ones left out (an unknown key is ignored)."""
    template: dict[str, Any] = {}
    for key in TEMPLATE_FIELDS:
        value = values.get(key)
        if value in (None, "", [], ()):
            continue
        template[key] = list(value) if isinstance(value, list | tuple) else value
    return template


def _request(template: Mapping[str, Any], *, renewal: bool = False
             ) -> tuple[CertificateRequest, list[Violation]]:
    """A renewal is judged under the ``certificate.renew`` action (policies may match
    it), a first order under ``certificate.generate``."""
    action = "certificate.renew" if renewal else "certificate.generate"
    request, problems = request_from_values(template, action=action)
    return with_default_provider(request), problems


def judge_template(target: TargetSystem, template: Mapping[str, Any]) -> list[Violation]:
    """The template's hard violations, judged as a request from the target system."""
    request, problems = _request(template)
    if not request.common_name and not request.dns_names and not request.ip_addresses:
        problems.append(Violation(code="name.missing", field="common_name",
                                  message="Enter the certificate's common name."))
    return list(assess(request, requester_for_target(target), problems).hard)


def create_profile(target: TargetSystem, name: str, values: Mapping[str, Any], *,
                   renew_before_days: int | None = None, enabled: bool = True,
                   actor: User | None = None) -> tuple[CertificateProfile, Order | None]:
    """Store a profile whose template passes the intake (else PolicyRejected, nothing
    stored) and, when enabled, make its first order at once."""
    template = template_from_values(values)
    profile = new_profile(target, name, template, renew_before_days, enabled)
    hard = judge_template(target, template)
    if hard:
        raise PolicyRejected(tuple(hard))
    db.session.add(profile)
    db.session.flush()
    audit.record("certificate_profile.create", resource_type="certificate_profile",
                 resource_id=profile.id, actor=actor,
                 details={"name": profile.name, "target": target.name,
                          "common_name": template.get("common_name")})
    db.session.commit()
    order = submit_profile_order(profile, INITIAL) if enabled and target.enabled else None
    return profile, order


def update_profile(profile: CertificateProfile, values: Mapping[str, Any], *,
                   renew_before_days: int | None, enabled: bool,
                   actor: User | None = None) -> bool:
    """Save a changed template / rule / flag, judged like a new profile (a refusal
    changes nothing). The next order uses it; certificates already issued stay. A
    profile enabled again that never got its first order gets it now."""
    template = template_from_values(values)
    check_renew_before(renew_before_days)
    if (template, renew_before_days, enabled) == (profile.template,
                                                  profile.renew_before_days, profile.enabled):
        return False
    hard = judge_template(profile.target, template)
    if hard:
        raise PolicyRejected(tuple(hard))
    profile.template, profile.renew_before_days = template, renew_before_days
    profile.enabled = enabled
    audit.record("certificate_profile.update", resource_type="certificate_profile",
                 resource_id=profile.id, actor=actor,
                 details={"name": profile.name, "enabled": enabled,
                          "common_name": template.get("common_name")})
    db.session.commit()
    if enabled and profile.target.enabled and profile.order_key is None:
        submit_profile_order(profile, INITIAL)
    return True


def submit_profile_order(profile: CertificateProfile, order_key: str) -> Order | None:
    """Make the profile's order named ``order_key`` unless it was made already (None).
    Policy refusals raise PolicyRejected (its alerts recorded once per order key).

    A renewal (``renew:<certificate id>``) names the certificate it renews and that
    certificate's order (``renews_certificate_id`` / ``renews_order_id``), as every
    renewal does (``services/renewals``), so the order and certificate pages link them.
    It is built from the profile's current template, not the previous order's request
    (an edited profile applies to its next order)."""
    target = profile.target
    previous = _renewed_certificate(order_key)
    requester = requester_for_target(target)
    request, problems = _request(profile.template, renewal=order_key != INITIAL)
    request_key = f"profile:{profile.id.hex}:{order_key}"[:80]
    first = assess(request, requester, problems)
    if first.blocked:
        alerts.record_policy_alerts(first.violations, request_key=request_key,
                                    requester=requester, common_name=request.common_name)
        db.session.commit()
        raise PolicyRejected(first.hard)

    def claim(order: Order) -> None:
        claimed = db.session.execute(update(CertificateProfile).where(
            CertificateProfile.id == profile.id,
            or_(CertificateProfile.order_key.is_(None),
                CertificateProfile.order_key != order_key)
        ).values(order_key=order_key).execution_options(synchronize_session=False)).rowcount
        if not claimed:
            raise ProfileOrderRefused(order_key)
        order.certificate_profile_id = profile.id
        if previous is not None:
            order.renews_certificate_id, order.renews_order_id = previous.id, previous.order_id
        order.events.append(OrderEvent(from_status=None, to_status=order.status, message=(
            f"First certificate of profile '{profile.name}'" if order_key == INITIAL else
            f"Renews certificate serial {previous.serial_hex if previous else '(deleted)'} "
            f"of profile '{profile.name}'")))
        db.session.flush()

    try:
        order, _ = submit_order(with_defaults(request, first.evaluation), requester,
                                pathway=PATHWAY, request_key=request_key,
                                before_commit=claim)
    except ProfileOrderRefused:
        log.info("profile %s: order %s was already made", profile.id, order_key)
        return None
    return order


def _renewed_certificate(order_key: str) -> Certificate | None:
    """The certificate a ``renew:<id>`` order renews (None for the first order, or when
    that certificate was deleted meanwhile: the renewal is still made, unlinked)."""
    if order_key == INITIAL:
        return None
    return db.session.get(Certificate, uuid.UUID(order_key.removeprefix("renew:")))


@dataclass
class RenewalRun:
    initial: int = 0
    renewals: int = 0
    refused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.initial} first order(s), {self.renewals} renewal order(s)"
        return text + (f"; refused: {'; '.join(self.refused)}" if self.refused else "")


def due_order_key(profile: CertificateProfile, now: datetime) -> str | None:
    """The order the profile needs now, or None: its first order, or the renewal of its
    current certificate once that is in the window (each made once)."""
    certificate = current_certificate(profile)
    if certificate is None:
        return INITIAL if profile.order_key is None else None
    if not renewal_due(certificate.not_before, certificate.not_after,
                       profile.renew_before_days, now):
        return None
    key = f"renew:{certificate.id}"
    return None if profile.order_key == key else key


def run_renewals(now: datetime | None = None) -> RenewalRun:
    """The ``renewals`` task for profiles: every enabled profile of an enabled target
    that needs an order gets it, once."""
    now = now or utcnow()
    run = RenewalRun()
    profiles = list(db.session.scalars(
        select(CertificateProfile).join(TargetSystem)
        .where(CertificateProfile.enabled.is_(True), TargetSystem.enabled.is_(True))
        .order_by(CertificateProfile.created_at)))
    for profile in profiles:
        key = due_order_key(profile, now)
        if key is None:
            continue
        try:
            order = submit_profile_order(profile, key)
        except PolicyRejected as exc:
            run.refused.append(f"{profile.target.name}/{profile.name}: {exc.message}")
            continue
        if order is not None:
            if key == INITIAL:
                run.initial += 1
            else:
                run.renewals += 1
    return run


def renewals_task() -> dict[str, Any]:
    """The scheduler's ``renewals`` task (``flask lifecycle run-now renewals``): the
    orders profiles need now, then the ``renewed_not_deployed`` alerts whose time has
    passed."""
    run = run_renewals()
    raised = deployments.raise_overdue()
    return {"initial": run.initial, "renewals": run.renewals, "refused": run.refused,
            "alerts": raised, "summary": run.summary() + f"; {raised} new alert(s)"}
