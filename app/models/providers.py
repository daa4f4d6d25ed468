"""Certificate providers (SPEC 4), the worker's sealing key pair, and the http-01
challenges the platform answers for its ACME providers."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.providers import BUILTIN
from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class Provider(db.Model):
    """A CA the platform orders from. ``type`` never changes after creation; ``config``
    holds only non-secret settings. ``secrets`` maps a secret's name to its value sealed
    to the worker's public key (only the worker opens it); the web shows only which are
    set. ``account_*``: the account the worker registered with the CA (ACME), its key
    wrapped under the key-encryption key."""

    __tablename__ = "certificate_providers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    account_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    account_key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last "Test connection": queued | running | ok | failed, with its steps.
    test_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    test_steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def is_builtin(self) -> bool:
        return self.type == BUILTIN

    @property
    def secret_names(self) -> list[str]:
        return sorted(self.secrets or {})


class WorkerKey(db.Model):
    """The worker's key pair for sealed secrets: the web encrypts to ``public_key_pem``
    (JWE, X25519); the private key is stored wrapped under the key-encryption key, so only
    the worker opens what was sealed. The newest row seals; older rows still open."""

    __tablename__ = "worker_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProviderChallenge(db.Model):
    """An http-01 key authorization served at /.well-known/acme-challenge/<token> while
    an ACME CA validates a name (no secret: the CA reads it over plain HTTP)."""

    __tablename__ = "provider_challenges"

    token: Mapped[str] = mapped_column(String(128), primary_key=True)
    key_authorization: Mapped[str] = mapped_column(String(256))
    identifier: Mapped[str] = mapped_column(String(253))
    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("certificate_providers.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
