"""The ACME server (SPEC 9): server configurations, pre-created accounts with domain
bindings and EAB credentials, and the protocol's orders and authorizations."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.domains import Domain
from app.models.pki import CertificateAuthority


class AcmeServer(db.Model):
    """One ACME directory (``/acme/<id>/directory``) issuing under one intermediate."""

    __tablename__ = "acme_servers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    issuer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_authorities.id"),
                                                 index=True)
    default_days: Mapped[int] = mapped_column(Integer, default=90)
    max_days: Mapped[int] = mapped_column(Integer, default=397)
    # Key algorithms a CSR may use (platform identifiers: ec-256, rsa-2048 ...).
    allowed_algorithms: Mapped[list[str]] = mapped_column(JSON, default=list)
    digest: Mapped[str] = mapped_column(String(16), default="sha256")
    terms_of_service_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    orders_per_hour: Mapped[int] = mapped_column(Integer, default=300)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    issuer: Mapped[CertificateAuthority] = relationship(lazy="joined", innerjoin=True)


class AcmeAccount(db.Model):
    """An account an admin pre-created. ``status`` is ``pending`` until the first
    newAccount with its EAB credentials binds the client's key (``jwk``/``thumbprint``)."""

    __tablename__ = "acme_accounts"
    __table_args__ = (UniqueConstraint("server_id", "name", name="uq_acme_accounts_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    server_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acme_servers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    eab_kid: Mapped[str] = mapped_column(String(64), unique=True)
    # The HMAC key, encrypted under a key derived from SECRET_KEY (the web verifies EAB).
    eab_hmac_encrypted: Mapped[str] = mapped_column(Text)
    jwk: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    thumbprint: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    contact: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    server: Mapped[AcmeServer] = relationship(lazy="joined", innerjoin=True)
    bindings: Mapped[list[AcmeBinding]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin",
        order_by="AcmeBinding.id")


class AcmeBinding(db.Model):
    """A registered domain an account may get certificates for: ``exact`` (that name),
    ``subdomains`` (it and every name below), ``wildcard`` (as subdomains, plus ``*.``)."""

    __tablename__ = "acme_bindings"
    __table_args__ = (UniqueConstraint("account_id", "domain_id",
                                       name="uq_acme_bindings_domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acme_accounts.id", ondelete="CASCADE"), index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"),
                                                 index=True)
    mode: Mapped[str] = mapped_column(String(16), default="exact")

    account: Mapped[AcmeAccount] = relationship(back_populates="bindings")
    domain: Mapped[Domain] = relationship(lazy="joined")


class AcmeOrder(db.Model):
    """An RFC 8555 order. Its platform ``Order`` exists once finalize passed intake."""

    __tablename__ = "acme_orders"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acme_accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="ready")
    identifiers: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    validity_days: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), nullable=True, unique=True)
    # RFC 9773 ``replaces``: the certificate this order renews.
    replaces_certificate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL"), nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    account: Mapped[AcmeAccount] = relationship(lazy="joined")
    authorizations: Mapped[list[AcmeAuthorization]] = relationship(
        back_populates="order", cascade="all, delete-orphan", lazy="selectin",
        order_by="AcmeAuthorization.position")


class AcmeAuthorization(db.Model):
    """An identifier of an order, satisfied by the account's binding (always ``valid``
    when created: names outside the bindings are refused at newOrder)."""

    __tablename__ = "acme_authorizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    acme_order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("acme_orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    identifier_type: Mapped[str] = mapped_column(String(8), default="dns")
    identifier_value: Mapped[str] = mapped_column(String(253))
    wildcard: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="valid")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    order: Mapped[AcmeOrder] = relationship(back_populates="authorizations")
