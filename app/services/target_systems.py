"""Target systems and their certificate profiles: records and reading them.

A target's settings are checked by ``app.domain.targets.check_target``; a profile's
request template is judged by the same intake and policies as any request
(``provisioning.judge_template``) before anything is stored."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from app.domain.policy import Violation
from app.domain.targets import KIND_PATHS, TargetSpec, check_target
from app.extensions import db
from app.models import (
    Bridge,
    Certificate,
    CertificateProfile,
    Deployment,
    Order,
    TargetSystem,
    User,
)
from app.services import audit
from app.services.errors import Conflict, NotFound, ValidationFailed
from app.services.lookup import by_uuid
from app.services.orders import PolicyRejected

MAX_RENEW_BEFORE_DAYS = 3650


def _name(name: str, model: type, *, scope: Any = None, code: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("Name must be 1 to 100 characters.", code=f"{code}.name",
                               field="name")
    query = select(model.id).where(func.lower(model.name) == name.lower())
    if scope is not None:
        query = query.where(scope)
    if db.session.scalar(query) is not None:
        raise Conflict(f"'{name}' is already taken.", code=f"{code}.duplicate", field="name")
    return name


def _refuse(found: list[Violation]) -> None:
    if found:
        raise PolicyRejected(tuple(found))


def _clean(spec: TargetSpec) -> TargetSpec:
    paths = {k: (v or "").strip() for k, v in spec.paths.items() if (v or "").strip()}
    spec = TargetSpec(**{**spec.__dict__, "paths": paths,
                         "reload_command": spec.reload_command.strip(),
                         "probe_host": spec.probe_host.strip(),
                         "probe_sni": (spec.probe_sni or "").strip() or None,
                         "file_owner": (spec.file_owner or "").strip() or None,
                         "file_group": (spec.file_group or "").strip() or None})
    _refuse(check_target(spec))
    return spec


def spec_of(target: TargetSystem) -> TargetSpec:
    return TargetSpec(kind=target.kind, paths=dict(target.paths),
                      reload_command=target.reload_command, probe_host=target.probe_host,
                      probe_port=target.probe_port, probe_sni=target.probe_sni,
                      file_owner=target.file_owner, file_group=target.file_group,
                      file_mode=target.file_mode, key_mode=target.key_mode,
                      reload_timeout_seconds=target.reload_timeout_seconds)


def create_target(name: str, bridge: Bridge, spec: TargetSpec, *,
                  actor: User | None = None) -> TargetSystem:
    name = _name(name, TargetSystem, code="target")
    spec = _clean(spec)
    target = TargetSystem(name=name, bridge_id=bridge.id, **spec.__dict__)
    db.session.add(target)
    db.session.flush()
    audit.record("target_system.create", resource_type="target_system",
                 resource_id=target.id, actor=actor,
                 details={"name": name, "kind": spec.kind, "bridge": bridge.name})
    db.session.commit()
    return target


def update_target(target: TargetSystem, name: str, bridge: Bridge, spec: TargetSpec,
                  enabled: bool, *, actor: User | None = None) -> bool:
    """Save changed settings (every check first: a refusal changes nothing). Returns
    whether anything changed (saving unchanged settings records nothing)."""
    new_name = (name or "").strip()
    if new_name.lower() != target.name.lower():
        new_name = _name(new_name, TargetSystem, code="target")
    spec = _clean(spec)
    if spec.kind != target.kind:
        raise ValidationFailed("The kind of a target system cannot change; create a new "
                               "target instead.", code="target.kind", field="kind")
    changed = (new_name != target.name or bridge.id != target.bridge_id
               or spec != spec_of(target) or enabled != target.enabled)
    if not changed:
        return False
    target.name, target.bridge_id, target.enabled = new_name, bridge.id, enabled
    for key, value in spec.__dict__.items():
        setattr(target, key, value)
    audit.record("target_system.update", resource_type="target_system",
                 resource_id=target.id, actor=actor,
                 details={"name": target.name, "enabled": enabled})
    db.session.commit()
    return True


def get_target(target_id: str) -> TargetSystem:
    target = by_uuid(TargetSystem, target_id)
    if target is None:
        raise NotFound("No such target system.", code="target.not_found")
    return target


def find_target(key: str) -> TargetSystem | None:
    try:
        return get_target(key)
    except NotFound:
        return db.session.scalar(select(TargetSystem)
                                 .where(func.lower(TargetSystem.name) == key.lower()))


def list_targets() -> list[TargetSystem]:
    return list(db.session.scalars(select(TargetSystem).order_by(TargetSystem.name)))


def get_profile(profile_id: str) -> CertificateProfile:
    profile = by_uuid(CertificateProfile, profile_id)
    if profile is None:
        raise NotFound("No such certificate profile.", code="profile.not_found")
    return profile


def check_renew_before(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= MAX_RENEW_BEFORE_DAYS:
        raise ValidationFailed(f"Renew 1 to {MAX_RENEW_BEFORE_DAYS} days before expiry, or "
                               "leave it empty for a third of the lifetime.",
                               code="profile.renew_before", field="renew_before_days")
    return days


def new_profile(target: TargetSystem, name: str, template: Mapping[str, Any],
                renew_before_days: int | None, enabled: bool) -> CertificateProfile:
    """A checked, not yet stored profile (the caller judges the template and stores it)."""
    return CertificateProfile(
        target_system_id=target.id, template=dict(template),
        name=_name(name, CertificateProfile, code="profile",
                   scope=CertificateProfile.target_system_id == target.id),
        renew_before_days=check_renew_before(renew_before_days), enabled=enabled)


# ---- reading --------------------------------------------------------------------------------

def current_certificate(profile: CertificateProfile) -> Certificate | None:
    """The newest certificate issued for the profile."""
    return db.session.scalar(
        select(Certificate).join(Order, Certificate.order_id == Order.id)
        .where(Order.certificate_profile_id == profile.id)
        .order_by(Certificate.created_at.desc()).limit(1))


def deployed_certificate(target: TargetSystem) -> Certificate | None:
    """The certificate of the target's newest succeeded deployment."""
    return db.session.scalar(
        select(Certificate).join(Deployment, Deployment.certificate_id == Certificate.id)
        .where(Deployment.target_system_id == target.id, Deployment.status == "succeeded")
        .order_by(Deployment.finished_at.desc()).limit(1))


def deployments_of(target: TargetSystem, limit: int = 20) -> list[Deployment]:
    return list(db.session.scalars(
        select(Deployment).where(Deployment.target_system_id == target.id)
        .order_by(Deployment.created_at.desc()).limit(limit)))


def orders_of(profile: CertificateProfile) -> list[Order]:
    return list(db.session.scalars(select(Order).where(
        Order.certificate_profile_id == profile.id).order_by(Order.submitted_at.desc())))


__all__ = ["KIND_PATHS", "TargetSpec"]
