"""Registered domains and IP networks (SPEC section 2)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exists, func, select

from app.domain.errors import InvalidName
from app.domain.names import normalize_domain, normalize_network, parse_ip
from app.extensions import db
from app.models import Domain, User, user_domains
from app.models.domains import DOMAIN_KIND_DNS, DOMAIN_KIND_NETWORK
from app.services import audit
from app.services.errors import Conflict, NotFound, ValidationFailed


@dataclass(frozen=True)
class Usage:
    """How many of one kind of thing use a domain, and a few of them by name."""

    count: int
    examples: tuple[str, ...] = ()


# Later capabilities (orders, certificates, couriers, policies) register a counter here,
# by plural label; a domain any counter reports as used can be disabled but not deleted.
REFERENCE_COUNTERS: dict[str, Callable[[Domain], Usage | int]] = {}
_SINGULAR = {"orders": "order", "certificates": "certificate", "couriers": "courier",
             "policies": "policy"}


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


def references(domain: Domain) -> dict[str, Usage]:
    """What uses ``domain``, by label (only labels with a use)."""
    from app.services import domain_usage, policies  # noqa: F401  (register their counters)

    found = {}
    for label, counter in REFERENCE_COUNTERS.items():
        usage = counter(domain)
        usage = usage if isinstance(usage, Usage) else Usage(usage)
        if usage.count:
            found[label] = usage
    return found


def describe_usage(used: dict[str, Usage]) -> str:
    """"2 orders (www.example.com, api.example.com) and 1 courier (web-01)"."""
    parts = []
    for label, usage in used.items():
        noun = _SINGULAR.get(label, label) if usage.count == 1 else label
        shown = ", ".join(usage.examples)
        more = ", …" if usage.count > len(usage.examples) else ""
        parts.append(f"{usage.count} {noun}" + (f" ({shown}{more})" if shown else ""))
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def assigned_user_count(domain: Domain) -> int:
    return db.session.scalar(
        select(func.count()).select_from(user_domains)
        .where(user_domains.c.domain_id == domain.id)) or 0


def delete_domain(domain: Domain, *, actor: User | None = None) -> None:
    """Delete a domain nothing uses (see ``references``); user assignments to it go with
    it. Refused with Conflict ``domain.in_use`` naming the users otherwise."""
    used = references(domain)
    if used:
        raise Conflict(f"{domain.display_name} is used by {describe_usage(used)}, so it cannot "
                       "be deleted; disable it instead.", code="domain.in_use")
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
