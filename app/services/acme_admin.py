"""ACME server configurations and pre-created accounts (Admin → ACME Servers, ``flask
acme``): validation, EAB credentials (shown once; the HMAC key kept encrypted under a key
derived from SECRET_KEY, because the web process verifies EAB and never holds the KEK)."""
from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import func, select

from app.domain.acme import (
    BINDING_MODES,
    DEFAULT_ALGORITHMS,
    DEFAULT_DAYS,
    MAX_DAYS,
    MIN_DAYS,
    parse_binding,
)
from app.domain.errors import InvalidName
from app.domain.names import normalize_domain
from app.extensions import db
from app.models import AcmeAccount, AcmeBinding, AcmeServer, CertificateAuthority, Domain, User
from app.models.base import utcnow
from app.models.pki import CA_ACTIVE
from app.services import audit
from app.services.errors import NotFound, ServiceError, ValidationFailed
from app.services.lookup import by_uuid
from app.services.pki import find_ca
from app.services.requesters import Requester

ALGORITHM_CHOICES = ("ec-256", "ec-384", "ec-521", "rsa-2048", "rsa-3072", "rsa-4096")
DIGESTS = ("sha256", "sha384", "sha512")


# ---- EAB key at rest ------------------------------------------------------------------------

def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"platform/acme-eab-hmac/v1").derive(current_app.config["SECRET_KEY"]
                                                          .encode())
    return Fernet(base64.urlsafe_b64encode(key))


def eab_hmac_key(account: AcmeAccount) -> bytes | None:
    """The account's EAB HMAC key, or None if it cannot be decrypted (SECRET_KEY changed)."""
    try:
        return _fernet().decrypt(account.eab_hmac_encrypted.encode())
    except InvalidToken:
        return None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def cli_safe_random(size: int, draw: Callable[[int], bytes] = secrets.token_bytes) -> bytes:
    """``size`` random bytes whose base64url text does not start with '-'.

    EAB credentials are pasted into clients' command lines, and argparse-based clients
    (certbot) read ``--eab-hmac-key -xyz…`` as a missing value followed by an option: one
    key in 64 would fail there. Drawing again costs nothing and loses under 0.03 bits."""
    while True:
        data = draw(size)
        if not b64url(data).startswith("-"):
            return data


# ---- servers --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerSettings:
    name: str
    issuer: str                       # the intermediate's id or common name
    default_days: int = DEFAULT_DAYS
    max_days: int = 397
    allowed_algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    digest: str = "sha256"
    terms_of_service_url: str | None = None
    orders_per_hour: int = 300


def _issuer(key: str) -> CertificateAuthority:
    ca = find_ca(key) if key and key.strip() else None
    if ca is None or ca.is_root:
        raise ValidationFailed(f"No intermediate CA '{(key or '')[:64]}'; ACME servers issue "
                               "under a Local PKI intermediate.", code="acme.issuer",
                               field="issuer")
    if ca.status != CA_ACTIVE:
        raise ValidationFailed(f"Intermediate '{ca.common_name}' is {ca.display_status}; "
                               "choose an active one.", code="acme.issuer", field="issuer")
    return ca


def _check_settings(s: ServerSettings) -> None:
    name = (s.name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("Name must be 1 to 100 characters.", code="acme.name",
                               field="name")
    if not MIN_DAYS <= s.max_days <= MAX_DAYS:
        raise ValidationFailed(f"Maximum validity must be {MIN_DAYS} to {MAX_DAYS} days.",
                               code="acme.max_days", field="max_days")
    if not MIN_DAYS <= s.default_days <= s.max_days:
        raise ValidationFailed(f"Default validity must be 1 to the maximum ({s.max_days}) "
                               "days.", code="acme.default_days", field="default_days")
    unknown = [a for a in s.allowed_algorithms if a not in ALGORITHM_CHOICES]
    if unknown or not s.allowed_algorithms:
        raise ValidationFailed("Allowed algorithms must be a non-empty choice of "
                               f"{', '.join(ALGORITHM_CHOICES)}.", code="acme.algorithms",
                               field="allowed_algorithms")
    if s.digest not in DIGESTS:
        raise ValidationFailed(f"Digest must be one of {', '.join(DIGESTS)}.",
                               code="acme.digest", field="digest")
    tos = s.terms_of_service_url
    if tos and (not tos.startswith(("https://", "http://")) or len(tos) > 500):
        raise ValidationFailed("The terms-of-service URL must be an http(s) URL of at most "
                               "500 characters.", code="acme.tos", field="terms_of_service_url")
    if not 1 <= s.orders_per_hour <= 1_000_000:
        raise ValidationFailed("Orders per hour must be 1 to 1,000,000.",
                               code="acme.orders_per_hour", field="orders_per_hour")


def _name_taken(name: str, exclude: uuid.UUID | None = None) -> bool:
    query = select(AcmeServer.id).where(func.lower(AcmeServer.name) == name.strip().lower())
    if exclude is not None:
        query = query.where(AcmeServer.id != exclude)
    return db.session.scalar(query) is not None


def create_server(s: ServerSettings, *, actor: User | None = None) -> AcmeServer:
    _check_settings(s)
    issuer = _issuer(s.issuer)
    if _name_taken(s.name):
        raise ValidationFailed(f"An ACME server named '{s.name.strip()}' exists.",
                               code="acme.name_taken", field="name")
    server = AcmeServer(name=s.name.strip(), issuer_id=issuer.id, default_days=s.default_days,
                        max_days=s.max_days, allowed_algorithms=list(s.allowed_algorithms),
                        digest=s.digest, terms_of_service_url=s.terms_of_service_url or None,
                        orders_per_hour=s.orders_per_hour, enabled=True)
    db.session.add(server)
    db.session.flush()
    audit.record("acme_server.create", resource_type="acme_server", resource_id=server.id,
                 actor=actor, details={"name": server.name, "issuer": issuer.common_name})
    db.session.commit()
    return server


def update_server(server: AcmeServer, s: ServerSettings, *, actor: User | None = None) -> None:
    _check_settings(s)
    issuer = _issuer(s.issuer)
    if _name_taken(s.name, exclude=server.id):
        raise ValidationFailed(f"An ACME server named '{s.name.strip()}' exists.",
                               code="acme.name_taken", field="name")
    server.name, server.issuer_id = s.name.strip(), issuer.id
    server.default_days, server.max_days = s.default_days, s.max_days
    server.allowed_algorithms, server.digest = list(s.allowed_algorithms), s.digest
    server.terms_of_service_url = s.terms_of_service_url or None
    server.orders_per_hour = s.orders_per_hour
    audit.record("acme_server.update", resource_type="acme_server", resource_id=server.id,
                 actor=actor, details={"name": server.name})
    db.session.commit()


def set_server_enabled(server: AcmeServer, enabled: bool, *, actor: User | None = None) -> None:
    server.enabled = enabled
    audit.record("acme_server.enable" if enabled else "acme_server.disable",
                 resource_type="acme_server", resource_id=server.id, actor=actor)
    db.session.commit()


def list_servers() -> list[AcmeServer]:
    return list(db.session.scalars(select(AcmeServer).order_by(AcmeServer.name)))


def get_server(server_id: object) -> AcmeServer:
    server = by_uuid(AcmeServer, server_id)
    if server is None:
        raise NotFound("No such ACME server.", code="acme_server.not_found")
    return server


def find_server(key: str) -> AcmeServer | None:
    return by_uuid(AcmeServer, key) or db.session.scalar(
        select(AcmeServer).where(func.lower(AcmeServer.name) == key.strip().lower()))


def directory_url(server: AcmeServer) -> str:
    return f"{public_base_url()}/acme/{server.id}/directory"


def public_base_url() -> str:
    from flask import has_request_context, request

    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if not base and current_app.config.get("APP_ENV") == "production":
        # The JWS url check would otherwise follow the Host header a client sends.
        raise ServiceError("PUBLIC_BASE_URL is not set; the ACME server needs the "
                           "platform's public URL in production.", code="acme.no_base_url")
    if not base and has_request_context():
        base = request.host_url
    return (base or "http://localhost:5000").rstrip("/")


# ---- accounts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewAccount:
    account: AcmeAccount
    eab_kid: str
    eab_hmac_key: str          # base64url, shown once


def _bindings(specs: list[str] | tuple[str, ...]) -> list[tuple[Domain, str]]:
    found: list[tuple[Domain, str]] = []
    for spec in specs:
        try:
            raw, mode = parse_binding(spec)
            name = normalize_domain(raw)
        except (ValueError, InvalidName) as exc:
            raise ValidationFailed(str(exc), code="acme.binding", field="bindings") from exc
        domain = db.session.scalar(select(Domain).where(Domain.name == name))
        if domain is None or domain.is_network:
            raise ValidationFailed(f"'{raw[:80]}' is not a registered domain; register it "
                                   "first (Admin → Domains).", code="acme.binding",
                                   field="bindings")
        if any(d.id == domain.id for d, _ in found):
            raise ValidationFailed(f"{name} is bound twice.", code="acme.binding",
                                   field="bindings")
        found.append((domain, mode))
    if not found:
        raise ValidationFailed("An account needs at least one domain binding.",
                               code="acme.binding", field="bindings")
    return found


def create_account(server: AcmeServer, name: str, email: str,
                   bindings: list[str] | tuple[str, ...], *, actor: User | None = None
                   ) -> NewAccount:
    name, email = (name or "").strip(), (email or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("Name must be 1 to 100 characters.", code="acme.name",
                               field="name")
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise ValidationFailed("Give a contact e-mail address.", code="acme.email",
                               field="email")
    bound = _bindings(bindings)
    if db.session.scalar(select(AcmeAccount.id).where(
            AcmeAccount.server_id == server.id,
            func.lower(AcmeAccount.name) == name.lower())) is not None:
        raise ValidationFailed(f"This server already has an account named '{name}'.",
                               code="acme.name_taken", field="name")
    kid = b64url(cli_safe_random(24))
    hmac_key = cli_safe_random(32)
    account = AcmeAccount(server_id=server.id, name=name, email=email, status="pending",
                          enabled=True, eab_kid=kid, contact=[],
                          eab_hmac_encrypted=_fernet().encrypt(hmac_key).decode())
    account.bindings = [AcmeBinding(domain_id=d.id, mode=m) for d, m in bound]
    db.session.add(account)
    db.session.flush()
    audit.record("acme_account.create", resource_type="acme_account", resource_id=account.id,
                 actor=actor, details={"name": name, "server": server.name,
                                       "bindings": [f"{d.name}:{m}" for d, m in bound]})
    db.session.commit()
    return NewAccount(account=account, eab_kid=kid, eab_hmac_key=b64url(hmac_key))


def set_account_enabled(account: AcmeAccount, enabled: bool, *, actor: User | None = None) -> None:
    account.enabled = enabled
    audit.record("acme_account.enable" if enabled else "acme_account.disable",
                 resource_type="acme_account", resource_id=account.id, actor=actor)
    db.session.commit()


def list_accounts(server: AcmeServer) -> list[AcmeAccount]:
    return list(db.session.scalars(select(AcmeAccount).where(
        AcmeAccount.server_id == server.id).order_by(AcmeAccount.name)))


def get_account(server: AcmeServer, account_id: object) -> AcmeAccount:
    account = by_uuid(AcmeAccount, account_id)
    if account is None or account.server_id != server.id:
        raise NotFound("No such ACME account.", code="acme_account.not_found")
    return account


def activated_now(account: AcmeAccount) -> None:
    account.status, account.activated_at = "valid", utcnow()


__all__ = ["BINDING_MODES"]


def requester_for_acme_account(account: AcmeAccount) -> Requester:
    """An ACME account may request names under its bound (and active) domains; the
    binding modes are checked at newOrder and finalize (``acme_protocol``)."""
    bound = [b.domain for b in account.bindings if b.domain.enabled]
    return Requester(kind="acme", id=str(account.id), label=account.name,
                     scope_domains=tuple(d.name for d in bound),
                     scope_networks=(), scope_label="this ACME account's domain bindings",
                     scope_empty_hint="None of this ACME account's bound domains is active.")


def issuer_choices() -> list[CertificateAuthority]:
    """Active intermediates an ACME server can issue under."""
    return list(db.session.scalars(select(CertificateAuthority).where(
        CertificateAuthority.kind == "intermediate", CertificateAuthority.status == CA_ACTIVE)
        .order_by(CertificateAuthority.common_name)))


def account_counts() -> dict[uuid.UUID, int]:
    rows = db.session.execute(select(AcmeAccount.server_id, func.count(AcmeAccount.id))
                              .group_by(AcmeAccount.server_id))
    return {server_id: n for server_id, n in rows}
