"""Bridges: records, client-secret authentication and short-lived bearer tokens.

As for couriers: the secret is shown once and stored hashed; tokens are signed
(SECRET_KEY, their own salt), carry the bridge id and its ``token_generation`` and are
checked against the database on every call, so a disable or a rotation revokes them all.
The public key (EC P-256 or X25519) is what deployment keys are encrypted to."""
from __future__ import annotations

import hmac
import secrets
import uuid
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import Bridge, User
from app.models.base import utcnow
from app.services import audit
from app.services.couriers import check_public_key
from app.services.errors import Conflict, NotFound, ServiceError, ValidationFailed
from app.services.lookup import by_uuid

TOKEN_SALT = "bridge-bearer-token"  # noqa: S105 (a salt label, not a secret)
MIN_POLL_SECONDS, MAX_POLL_SECONDS = 2, 3600
MAX_VERSION_LENGTH = 64
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class BridgeAuthFailed(ServiceError):
    status = 401


def status_of(bridge: Bridge) -> str:
    """``disabled``, ``never`` (no contact yet), ``online`` (seen within two poll
    intervals) or ``offline``."""
    if not bridge.enabled:
        return "disabled"
    if bridge.last_seen_at is None:
        return "never"
    window = timedelta(seconds=2 * bridge.poll_interval_seconds)
    return "online" if utcnow() - bridge.last_seen_at <= window else "offline"


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("Name must be 1 to 100 characters.", code="bridge.name",
                               field="name")
    if db.session.scalar(select(Bridge.id).where(func.lower(Bridge.name) == name.lower())):
        raise Conflict(f"A bridge named '{name}' already exists.", code="bridge.duplicate",
                       field="name")
    return name


def _check_poll(seconds: int) -> int:
    if not MIN_POLL_SECONDS <= seconds <= MAX_POLL_SECONDS:
        raise ValidationFailed(f"The poll interval must be {MIN_POLL_SECONDS} to "
                               f"{MAX_POLL_SECONDS} seconds.", code="bridge.poll_interval",
                               field="poll_interval")
    return seconds


def _check_key(pem: str | None) -> str:
    try:
        key = check_public_key(pem)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, code="bridge.public_key",
                               field="public_key") from exc
    if key is None:
        raise ValidationFailed("A bridge needs its public key (EC P-256 or X25519, PEM): "
                               "deployment keys are encrypted to it.",
                               code="bridge.public_key", field="public_key")
    return key


def create_bridge(name: str, public_key_pem: str | None, *, poll_interval: int = 30,
                  actor: User | None = None) -> tuple[Bridge, str]:
    """Returns the bridge and its client secret (shown once; only a hash is kept)."""
    bridge = Bridge(name=_check_name(name), public_key_pem=_check_key(public_key_pem),
                    poll_interval_seconds=_check_poll(poll_interval),
                    client_id="br_" + secrets.token_hex(12), secret_hash="")
    secret = secrets.token_urlsafe(32)
    bridge.secret_hash = generate_password_hash(secret)
    db.session.add(bridge)
    db.session.flush()
    audit.record("bridge.create", resource_type="bridge", resource_id=bridge.id, actor=actor,
                 details={"name": bridge.name})
    db.session.commit()
    return bridge, secret


def set_enabled(bridge: Bridge, enabled: bool, *, actor: User | None = None) -> None:
    if bridge.enabled != enabled:
        bridge.enabled = enabled
        bridge.token_generation += 1
        audit.record("bridge.enable" if enabled else "bridge.disable", resource_type="bridge",
                     resource_id=bridge.id, actor=actor, details={"name": bridge.name})
        db.session.commit()


def rotate_secret(bridge: Bridge, *, actor: User | None = None) -> str:
    secret = secrets.token_urlsafe(32)
    bridge.secret_hash = generate_password_hash(secret)
    bridge.token_generation += 1
    audit.record("bridge.rotate_secret", resource_type="bridge", resource_id=bridge.id,
                 actor=actor, details={"name": bridge.name})
    db.session.commit()
    return secret


def get_bridge(bridge_id: str) -> Bridge:
    bridge = by_uuid(Bridge, bridge_id)
    if bridge is None:
        raise NotFound("No such bridge.", code="bridge.not_found")
    return bridge


def find_bridge(key: str) -> Bridge | None:
    try:
        return get_bridge(key)
    except NotFound:
        return db.session.scalar(select(Bridge).where(func.lower(Bridge.name) == key.lower()))


def list_bridges() -> list[Bridge]:
    return list(db.session.scalars(select(Bridge).order_by(Bridge.name)))


# ---- API authentication ------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def _ttl() -> int:
    return int(current_app.config["COURIER_TOKEN_TTL_SECONDS"])


def authenticate(client_id: str, client_secret: str, version: str | None = None
                 ) -> tuple[str, int]:
    """Exchange credentials for a bearer token: (token, expires_in seconds). The client
    id identifies the bridge (it is not secret); the secret is checked against the hash
    in constant time whether or not the bridge exists."""
    bridge = db.session.scalar(select(Bridge).where(Bridge.client_id == (client_id or "")))
    valid = check_password_hash(bridge.secret_hash if bridge else _DUMMY_HASH,
                                client_secret or "")
    if bridge is None or not valid or not bridge.enabled \
            or not hmac.compare_digest(bridge.client_id.encode(), (client_id or "").encode()):
        audit.record("bridge.auth", outcome=audit.FAILURE, resource_type="bridge",
                     resource_id=(client_id or "")[:64], actor_label="bridge")
        db.session.commit()
        raise BridgeAuthFailed("Invalid bridge credentials, or the bridge is disabled.",
                               code="auth.invalid_credentials")
    seen(bridge, version)
    token = _serializer().dumps({"b": str(bridge.id), "g": bridge.token_generation})
    return token, _ttl()


def seen(bridge: Bridge, version: str | None = None) -> None:
    """Record a contact (the bridge's last contact and version)."""
    bridge.last_seen_at = utcnow()
    if version:
        bridge.version = version[:MAX_VERSION_LENGTH]
    db.session.commit()


def bridge_for_token(token: str) -> Bridge:
    try:
        data = _serializer().loads(token, max_age=_ttl())
        bridge = db.session.get(Bridge, uuid.UUID(data["b"]))
    except SignatureExpired as exc:
        raise BridgeAuthFailed("The bearer token has expired; authenticate again.",
                               code="auth.token_expired") from exc
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise BridgeAuthFailed("The bearer token is not valid.",
                               code="auth.invalid_token") from exc
    if bridge is None or not bridge.enabled or data.get("g") != bridge.token_generation:
        raise BridgeAuthFailed("The bearer token was revoked or the bridge is disabled.",
                               code="auth.revoked")
    return bridge
