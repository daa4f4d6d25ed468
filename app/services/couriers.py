"""Couriers: records, client-secret authentication and short-lived bearer tokens.

Tokens are signed (SECRET_KEY), carry the courier id and its ``token_generation``, and
expire after COURIER_TOKEN_TTL seconds. They are checked against the database on every
request, so disabling a courier or rotating its secret revokes every token at once."""
from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Iterable

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import Courier, Domain, Order, User
from app.models.base import utcnow
from app.services import audit
from app.services.errors import Conflict, NotFound, ServiceError, ValidationFailed
from app.services.lookup import by_uuid
from app.services.requesters import Requester

TOKEN_SALT = "courier-bearer-token"  # noqa: S105 (a salt label, not a secret)
MAX_PUBLIC_KEY_BYTES = 8 * 1024
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class CourierAuthFailed(ServiceError):
    status = 401


def requester_for_courier(courier: Courier) -> Requester:
    """A courier may request names under its allowed domains (which must also be active)."""
    allowed = [d for d in courier.domains if d.enabled]
    return Requester(kind="courier", id=str(courier.id), label=courier.name,
                     scope_domains=tuple(d.name for d in allowed if not d.is_network),
                     scope_networks=tuple(d.name for d in allowed if d.is_network),
                     scope_label="this courier's allowed domains",
                     scope_empty_hint="None of this courier's allowed domains is active.")


def _check_name(name: str, exclude: uuid.UUID | None = None) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("Name must be 1 to 100 characters.", code="courier.name",
                               field="name")
    query = select(Courier.id).where(func.lower(Courier.name) == name.lower())
    if exclude is not None:
        query = query.where(Courier.id != exclude)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A courier named '{name}' already exists.", code="courier.duplicate",
                       field="name")
    return name


def _domains(domain_ids: Iterable[int]) -> list[Domain]:
    ids = {int(i) for i in domain_ids}
    if not ids:
        raise ValidationFailed("Choose at least one allowed domain.", code="courier.domains",
                               field="domains")
    rows = list(db.session.scalars(select(Domain).where(Domain.id.in_(ids))))
    if len(rows) != len(ids):
        raise ValidationFailed("Every allowed domain must be a registered domain.",
                               code="courier.domains", field="domains")
    return rows


def check_public_key(pem: str | None) -> str | None:
    """Accept an EC P-256 or X25519 public key in PEM (the JWE recipient key)."""
    text = (pem or "").strip()
    if not text:
        return None
    if len(text.encode()) > MAX_PUBLIC_KEY_BYTES:
        raise ValidationFailed("The public key is too large.", code="courier.public_key",
                               field="public_key")
    try:
        key = load_pem_public_key(text.encode())
    except ValueError as exc:
        raise ValidationFailed("The encryption key is not a PEM public key.",
                               code="courier.public_key", field="public_key") from exc
    if isinstance(key, x25519.X25519PublicKey) or (
            isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"):
        return text + "\n"
    raise ValidationFailed("The encryption key must be an EC P-256 or X25519 public key.",
                           code="courier.public_key", field="public_key")


def create_courier(name: str, domain_ids: Iterable[int], *, public_key_pem: str | None = None,
                   actor: User | None = None) -> tuple[Courier, str]:
    """Returns the courier and its client secret (shown once; only a hash is kept)."""
    courier = Courier(name=_check_name(name), domains=_domains(domain_ids),
                      encryption_public_key_pem=check_public_key(public_key_pem),
                      client_id="cr_" + secrets.token_hex(12), secret_hash="")
    secret = secrets.token_urlsafe(32)
    courier.secret_hash = generate_password_hash(secret)
    db.session.add(courier)
    db.session.flush()
    audit.record("courier.create", resource_type="courier", resource_id=courier.id,
                 actor=actor, details={"name": courier.name,
                                       "domains": [d.name for d in courier.domains]})
    db.session.commit()
    return courier, secret


def update_courier(courier: Courier, *, name: str, domain_ids: Iterable[int],
                   public_key_pem: str | None, enabled: bool, actor: User | None = None) -> None:
    # Validate everything before touching the record, so a refusal changes nothing.
    new_name = _check_name(name, exclude=courier.id)
    new_domains = _domains(domain_ids)
    new_key = check_public_key(public_key_pem)
    courier.name, courier.domains = new_name, new_domains
    courier.encryption_public_key_pem = new_key
    if courier.enabled != enabled:
        courier.enabled = enabled
        courier.token_generation += 1
    audit.record("courier.update", resource_type="courier", resource_id=courier.id,
                 actor=actor, details={"name": courier.name, "enabled": courier.enabled})
    db.session.commit()


def set_enabled(courier: Courier, enabled: bool, *, actor: User | None = None) -> None:
    if courier.enabled != enabled:
        courier.enabled = enabled
        courier.token_generation += 1
        audit.record("courier.enable" if enabled else "courier.disable",
                     resource_type="courier", resource_id=courier.id, actor=actor,
                     details={"name": courier.name})
        db.session.commit()


def rotate_secret(courier: Courier, *, actor: User | None = None) -> str:
    secret = secrets.token_urlsafe(32)
    courier.secret_hash = generate_password_hash(secret)
    courier.token_generation += 1
    audit.record("courier.rotate_secret", resource_type="courier", resource_id=courier.id,
                 actor=actor, details={"name": courier.name})
    db.session.commit()
    return secret


def delete_courier(courier: Courier, *, actor: User | None = None) -> None:
    audit.record("courier.delete", resource_type="courier", resource_id=courier.id,
                 actor=actor, details={"name": courier.name})
    db.session.delete(courier)
    db.session.commit()


def get_courier(courier_id: str) -> Courier:
    courier = by_uuid(Courier, courier_id)
    if courier is None:
        raise NotFound("No such courier.", code="courier.not_found")
    return courier


def find_courier(key: str) -> Courier | None:
    try:
        return get_courier(key)
    except NotFound:
        return db.session.scalar(select(Courier).where(func.lower(Courier.name) == key.lower()))


def list_couriers() -> list[Courier]:
    return list(db.session.scalars(select(Courier).order_by(Courier.name)))


def order_counts() -> dict[uuid.UUID, int]:
    """How many orders each courier has requested (couriers with none are absent)."""
    rows = db.session.execute(
        select(Order.requested_by_courier_id, func.count(Order.id))
        .where(Order.requested_by_courier_id.is_not(None))
        .group_by(Order.requested_by_courier_id))
    return {courier_id: total for courier_id, total in rows}


def order_count(courier: Courier) -> int:
    return db.session.scalar(select(func.count(Order.id))
                             .where(Order.requested_by_courier_id == courier.id)) or 0


# ---- API authentication ------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def authenticate(courier_uuid: str, client_id: str, client_secret: str) -> tuple[str, int]:
    """Exchange credentials for a bearer token: returns (token, expires_in seconds)."""
    courier = by_uuid(Courier, courier_uuid)
    valid = check_password_hash(courier.secret_hash if courier else _DUMMY_HASH,
                                client_secret or "")
    if (courier is None or not valid or not courier.enabled
            or not hmac.compare_digest(courier.client_id.encode(),
                                       (client_id or "").encode())):
        audit.record("courier.auth", outcome=audit.FAILURE, resource_type="courier",
                     resource_id=str(courier_uuid)[:64], actor_label="courier")
        db.session.commit()
        raise CourierAuthFailed("Invalid courier credentials, or the courier is disabled.",
                                code="auth.invalid_credentials")
    courier.last_used_at = utcnow()
    db.session.commit()
    ttl = current_app.config["COURIER_TOKEN_TTL_SECONDS"]
    token = _serializer().dumps({"c": str(courier.id), "g": courier.token_generation})
    return token, ttl


def courier_for_token(token: str) -> Courier:
    """The courier a bearer token belongs to, or CourierAuthFailed (expired, forged,
    revoked by a rotation, or the courier is disabled)."""
    try:
        data = _serializer().loads(token, max_age=current_app.config["COURIER_TOKEN_TTL_SECONDS"])
        # Its domains in the same statement: every courier request builds its scope.
        courier = db.session.get(Courier, uuid.UUID(data["c"]),
                                 options=[joinedload(Courier.domains)])
    except SignatureExpired as exc:
        raise CourierAuthFailed("The bearer token has expired; authenticate again.",
                                code="auth.token_expired") from exc
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise CourierAuthFailed("The bearer token is not valid.", code="auth.invalid_token") \
            from exc
    if courier is None or not courier.enabled or data.get("g") != courier.token_generation:
        raise CourierAuthFailed("The bearer token was revoked or the courier is disabled.",
                                code="auth.revoked")
    return courier
