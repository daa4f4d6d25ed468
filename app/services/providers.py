"""Admin → Certificate Providers: records, sealed secrets, connection tests (SPEC 4).

Web side only: secrets are sealed to the worker's key here and never read back; a
connection test is queued for the worker, which reports its steps on the row."""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from flask import current_app
from sqlalchemy import func, select, update

from app.domain.providers import (
    ACME,
    BUILTIN,
    DIGICERT,
    GLOBALSIGN,
    PROVIDER_TYPES,
    SECRET_NAMES,
    TYPE_LABELS,
    ConfigProblem,
    clean_acme_config,
    clean_digicert_config,
    clean_globalsign_config,
    split_host_port,
)
from app.extensions import db
from app.jobs.enqueue import enqueue
from app.models import Order, Provider, User
from app.models.base import utcnow
from app.net.outbound import OutboundBlocked, OutboundPolicy, check_host_port, check_url
from app.pki.errors import PkiError
from app.pki.keys import load_private_key_pem, same_public_key
from app.providers.registry import is_available
from app.services import audit
from app.services.errors import Conflict, NotFound, QueueUnavailable, ValidationFailed
from app.services.lookup import by_uuid
from app.services.worker_keys import seal_for_worker

MAX_SECRET_BYTES = 16 * 1024
#: Settings whose change makes the CA account registered so far meaningless.
ACCOUNT_SETTINGS = ("directory_url", "eab_kid")


def outbound_policy() -> OutboundPolicy:
    config = current_app.config
    return OutboundPolicy.from_settings(
        allow_http=bool(config.get("OUTBOUND_ALLOW_HTTP")),
        allowed_networks=config.get("OUTBOUND_ALLOWED_NETWORKS") or (),
        connect_timeout=float(config.get("OUTBOUND_CONNECT_TIMEOUT", 5)),
        read_timeout=float(config.get("OUTBOUND_READ_TIMEOUT", 20)),
        total_timeout=float(config.get("OUTBOUND_TOTAL_TIMEOUT", 60)),
        max_response_bytes=int(config.get("OUTBOUND_MAX_RESPONSE_BYTES", 1024 * 1024)))


# ---- reading -------------------------------------------------------------------------------

def local_pki() -> Provider:
    row = db.session.scalar(select(Provider).where(Provider.type == BUILTIN).limit(1))
    if row is None:  # pragma: no cover - seeded by migration 0005
        raise NotFound("The Local PKI provider is missing; run 'flask db upgrade'.",
                       code="provider.not_found")
    return row


def get_provider(provider_id: object) -> Provider:
    row = by_uuid(Provider, provider_id)
    if row is None:
        raise NotFound("No such certificate provider.", code="provider.not_found")
    return row


def find_provider(key: str) -> Provider | None:
    """By id or by name (case-insensitive), for the CLI."""
    return by_uuid(Provider, key) or db.session.scalar(
        select(Provider).where(func.lower(Provider.name) == key.strip().lower()))


def list_providers() -> list[Provider]:
    rows = db.session.scalars(select(Provider).order_by(Provider.name))
    return sorted(rows, key=lambda p: (not p.is_builtin, p.name.lower()))


def order_counts() -> dict[uuid.UUID, int]:
    rows = db.session.execute(select(Order.provider_id, func.count(Order.id))
                              .group_by(Order.provider_id))
    return {provider_id: total for provider_id, total in rows}


def order_count(provider: Provider) -> int:
    return db.session.scalar(select(func.count(Order.id))
                             .where(Order.provider_id == provider.id)) or 0


def types_to_come() -> list[str]:
    """Provider types named by the spec that this version cannot create yet."""
    return [t for t in PROVIDER_TYPES if not is_available(t)]


def type_label(provider_type: str) -> str:
    return TYPE_LABELS.get(provider_type, provider_type)


# ---- writing -------------------------------------------------------------------------------

def _check_name(name: str, exclude: uuid.UUID | None = None) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("Name must be 1 to 100 characters.", code="provider.name",
                               field="name")
    query = select(Provider.id).where(func.lower(Provider.name) == name.lower())
    if exclude is not None:
        query = query.where(Provider.id != exclude)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A provider named '{name}' already exists.",
                       code="provider.duplicate", field="name")
    return name


def _check_secrets(provider_type: str, secrets: Mapping[str, str]) -> dict[str, str]:
    allowed = SECRET_NAMES.get(provider_type, ())
    cleaned = {}
    for name, value in secrets.items():
        if name not in allowed:
            raise ValidationFailed(f"'{name}' is not a secret of this provider type.",
                                   code="provider.secret_unknown", field=name)
        value = (value or "").strip()
        if not value:
            continue
        if len(value.encode()) > MAX_SECRET_BYTES:
            raise ValidationFailed("The secret is too large.", code="provider.secret_size",
                                   field=name)
        cleaned[name] = value
    return cleaned


CONFIG_CLEANERS = {ACME: clean_acme_config, DIGICERT: clean_digicert_config,
                   GLOBALSIGN: clean_globalsign_config}


def _clean_config(provider_type: str, raw: Mapping[str, Any],
                  secret_names: set[str], plain: Mapping[str, str] | None = None
                  ) -> dict[str, Any]:
    cleaner = CONFIG_CLEANERS.get(provider_type)
    if cleaner is None:
        return {}
    try:
        config = cleaner(raw, {n: "" for n in secret_names})
    except ConfigProblem as exc:
        raise ValidationFailed(exc.message, code="provider.config", field=exc.field) from exc
    if provider_type == GLOBALSIGN:
        check_client_certificate(config["client_cert"], (plain or {}).get("mtls_key"))
    policy = outbound_policy()
    url_field = "directory_url" if provider_type == ACME else "base_url"
    checks = [(url_field, lambda: check_url(config[url_field], policy))]
    if config.get("dns_server"):
        checks.append(("dns_server", lambda: check_host_port(
            *split_host_port(config["dns_server"]), policy)))
    for field, check in checks:
        try:
            check()
        except OutboundBlocked as exc:
            raise ValidationFailed(str(exc), code=exc.code, field=field) from exc
    return config


def check_client_certificate(cert_pem: str, key_pem: str | None) -> None:
    """The mutual-TLS client certificate parses, and matches its key when one is given
    (on an edit that keeps the sealed key, the web side cannot open it to compare)."""
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError as exc:
        raise ValidationFailed("The client certificate is not a readable PEM certificate.",
                               code="provider.config", field="client_cert") from exc
    if not key_pem:
        return
    try:
        key = load_private_key_pem(key_pem.encode())
    except (PkiError, ValueError, TypeError) as exc:
        raise ValidationFailed("The client key is not an unencrypted PEM private key.",
                               code="provider.config", field="mtls_key") from exc
    if not same_public_key(key, certificate.public_key()):  # type: ignore[arg-type]
        raise ValidationFailed("The client key does not belong to the client certificate.",
                               code="provider.config", field="mtls_key")


def _seal_into(provider: Provider, secrets: Mapping[str, str]) -> None:
    sealed = dict(provider.secrets or {})
    for name, value in secrets.items():
        sealed[name] = seal_for_worker(value, f"provider:{provider.id}:{name}")
    provider.secrets = sealed


def create_provider(provider_type: str, name: str, config: Mapping[str, Any],
                    secrets: Mapping[str, str], *, active: bool = True,
                    actor: User | None = None) -> Provider:
    """A new provider. ``secrets`` are plain values (sealed here, never stored as given)."""
    if provider_type not in PROVIDER_TYPES:
        raise ValidationFailed(f"Unknown provider type '{provider_type}'; choose one of "
                               f"{', '.join(PROVIDER_TYPES)}.", code="provider.type",
                               field="type")
    if provider_type == BUILTIN:
        raise ValidationFailed("There is exactly one Local PKI provider; it cannot be "
                               "created again.", code="provider.type", field="type")
    if not is_available(provider_type):
        raise ValidationFailed(f"{type_label(provider_type)} providers are not available "
                               "in this version yet.", code="provider.type_unavailable",
                               field="type")
    name = _check_name(name)
    plain = _check_secrets(provider_type, secrets)
    provider = Provider(id=uuid.uuid4(), type=provider_type, name=name, active=active,
                        config=_clean_config(provider_type, config, set(plain), plain), secrets={},
                        test_steps=[])
    _seal_into(provider, plain)
    db.session.add(provider)
    db.session.flush()
    audit.record("provider.create", resource_type="provider", resource_id=provider.id,
                 actor=actor, details={"name": name, "type": provider_type, "active": active,
                                       "secrets_set": sorted(plain)})
    db.session.commit()
    return provider


def update_provider(provider: Provider, *, name: str, config: Mapping[str, Any],
                    secrets: Mapping[str, str], active: bool,
                    actor: User | None = None) -> list[str]:
    """Save an edit; returns what changed. Secrets left empty keep their sealed value;
    the type never changes. A changed directory or EAB key id forgets the CA account."""
    new_name = _check_name(name, exclude=provider.id)
    plain = _check_secrets(provider.type, secrets)
    new_config = _clean_config(provider.type, config,
                               set(provider.secrets or {}) | set(plain), plain)
    changed = [k for k in sorted(set(new_config) | set(provider.config or {}))
               if new_config.get(k) != (provider.config or {}).get(k)]
    if new_name != provider.name:
        changed.insert(0, "name")
    if active != provider.active:
        changed.append("active")
    changed += [f"secret:{k}" for k in sorted(plain)]
    if not changed:
        return []
    if any(k in changed for k in ACCOUNT_SETTINGS) or "secret:eab_hmac_key" in changed:
        provider.account_url = provider.account_key_encrypted = None
    provider.name, provider.config, provider.active = new_name, new_config, active
    _seal_into(provider, plain)
    audit.record("provider.update", resource_type="provider", resource_id=provider.id,
                 actor=actor, details={"name": provider.name, "changed": changed})
    db.session.commit()
    return changed


def set_active(provider: Provider, active: bool, *, actor: User | None = None) -> None:
    if provider.active != active:
        provider.active = active
        audit.record("provider.activate" if active else "provider.deactivate",
                     resource_type="provider", resource_id=provider.id, actor=actor,
                     details={"name": provider.name})
        db.session.commit()


def delete_provider(provider: Provider, *, actor: User | None = None) -> None:
    if provider.is_builtin:
        raise Conflict("The Local PKI provider cannot be deleted (deactivate it instead).",
                       code="provider.builtin")
    count = order_count(provider)
    if count:
        raise Conflict(f"{count} order{'s' if count > 1 else ''} reference"
                       f"{'' if count > 1 else 's'} '{provider.name}', so it cannot be "
                       "deleted; deactivate it instead.", code="provider.in_use")
    audit.record("provider.delete", resource_type="provider", resource_id=provider.id,
                 actor=actor, details={"name": provider.name, "type": provider.type})
    db.session.delete(provider)
    db.session.commit()


# ---- connection test -----------------------------------------------------------------------

def test_job_id(provider: Provider) -> str:
    return f"provider-{provider.id}-test"


def request_connection_test(provider: Provider, *, actor: User | None = None) -> None:
    """Queue a connection test in the worker (a test already queued or running is left
    to finish). Raises QueueUnavailable when the queue cannot be reached."""
    if provider.test_status not in ("queued", "running"):
        db.session.execute(update(Provider).where(Provider.id == provider.id).values(
            test_status="queued", test_steps=[], tested_at=utcnow()))
        audit.record("provider.test", resource_type="provider", resource_id=provider.id,
                     actor=actor, details={"name": provider.name})
        db.session.commit()
        db.session.refresh(provider)
    if not enqueue("test_provider", test_job_id(provider), str(provider.id),
                   description=f"test provider {provider.id}", job_timeout=120):
        db.session.execute(update(Provider).where(Provider.id == provider.id).values(
            test_status="failed", test_steps=[{
                "name": "queue", "ok": False,
                "message": "The job queue could not be reached; try again."}]))
        db.session.commit()
        raise QueueUnavailable("The connection test could not be handed to a worker; try "
                               "again in a moment.", resource_id=str(provider.id))
