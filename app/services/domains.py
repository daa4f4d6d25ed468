"""Registered domains and IP networks (SPEC section 2)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import exists, func, select

from app.domain.errors import InvalidName
from app.domain.names import normalize_domain, normalize_network, parse_ip
from app.extensions import db
from app.models import Domain, User, user_domains
from app.models.domains import DOMAIN_KIND_DNS, DOMAIN_KIND_NETWORK
from app.services import audit
from app.services.errors import Conflict, NotFound, ValidationFailed

# Later capabilities (orders, policies) register a counter here; a domain any counter
# reports as referenced can be disabled but not deleted (SPEC section 2).
REFERENCE_COUNTERS: dict[str, Callable[[Domain], int]] = {}


def parse_entry(raw: str) -> tuple[str, str]:
    """Return (kind, normalised name) for what an admin typed, or raise ValidationFailed."""
    text = (raw or "").strip()
    try:
        if "/" in text or parse_ip(text) is not None:
            return DOMAIN_KIND_NETWORK, normalize_network(text)
        return DOMAIN_KIND_DNS, normalize_domain(text)
    except InvalidName as exc:
        raise ValidationFailed(exc.message, code=exc.code, field="name") from exc


def add_domain(raw: str, *, enabled: bool = True, actor: User | None = None) -> Domain:
    kind, name = parse_entry(raw)
    if db.session.scalar(select(Domain.id).where(Domain.name == name)) is not None:
        raise Conflict(f"{name} is already registered.", code="domain.duplicate", field="name")
    domain = Domain(name=name, kind=kind, enabled=enabled)
    db.session.add(domain)
    db.session.flush()
    audit.record("domain.create", resource_type="domain", resource_id=domain.id, actor=actor,
                 details={"name": name, "kind": kind, "enabled": enabled})
    db.session.commit()
    return domain


def set_enabled(domain: Domain, enabled: bool, *, actor: User | None = None) -> None:
    if domain.enabled == enabled:
        return
    domain.enabled = enabled
    audit.record("domain.enable" if enabled else "domain.disable", resource_type="domain",
                 resource_id=domain.id, actor=actor, details={"name": domain.name})
    db.session.commit()


def references(domain: Domain) -> dict[str, int]:
    counts = {label: count(domain) for label, count in REFERENCE_COUNTERS.items()}
    return {label: n for label, n in counts.items() if n}


def assigned_user_count(domain: Domain) -> int:
    return db.session.scalar(
        select(func.count()).select_from(user_domains)
        .where(user_domains.c.domain_id == domain.id)) or 0


def delete_domain(domain: Domain, *, actor: User | None = None) -> None:
    """Delete an unreferenced domain; user assignments to it go with it."""
    used = references(domain)
    if used:
        what = ", ".join(f"{n} {label}" for label, n in used.items())
        raise Conflict(f"{domain.name} is used by {what}; disable it instead.",
                       code="domain.in_use")
    audit.record("domain.delete", resource_type="domain", resource_id=domain.id, actor=actor,
                 details={"name": domain.name, "kind": domain.kind})
    db.session.delete(domain)
    db.session.commit()


def list_domains() -> list[Domain]:
    return list(db.session.scalars(select(Domain).order_by(Domain.kind, Domain.name)))


def has_active_domain() -> bool:
    """True when at least one domain or IP network is enabled (an EXISTS, not a load)."""
    return bool(db.session.scalar(select(exists().where(Domain.enabled.is_(True)))))


def find_domain(key: str) -> Domain | None:
    """Look a domain up by id or by (normalised) name, for the CLI."""
    if key.isdigit():
        return db.session.get(Domain, int(key))
    try:
        _, name = parse_entry(key)
    except ValidationFailed:
        return None
    return db.session.scalar(select(Domain).where(Domain.name == name))


def kinds() -> tuple[str, str]:
    return DOMAIN_KIND_DNS, DOMAIN_KIND_NETWORK


def get_domain(domain_id: int) -> Domain:
    domain = db.session.get(Domain, domain_id)
    if domain is None:
        raise NotFound("No such domain.", code="domain.not_found")
    return domain


def active_domain_count() -> int:
    return db.session.scalar(select(func.count(Domain.id)).where(Domain.enabled.is_(True))) or 0
