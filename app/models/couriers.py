from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.domains import Domain

courier_domains = Table(
    "courier_domains",
    db.metadata,
    Column("courier_id", ForeignKey("couriers.id", ondelete="CASCADE"), primary_key=True),
    Column("domain_id", ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
)


class Courier(db.Model):
    """An automated agent that requests certificates over the JSON API (SPEC section 8).
    The client secret is stored only as a hash; ``token_generation`` invalidates every
    bearer token issued before a secret rotation."""

    __tablename__ = "couriers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_method: Mapped[str] = mapped_column(String(32), default="client_secret")
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    encryption_public_key_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    domains: Mapped[list[Domain]] = relationship(secondary=courier_domains,
                                                 order_by="Domain.name", lazy="selectin")


class ApiIdempotencyKey(db.Model):
    """An ``Idempotency-Key`` a courier sent with a POST: a retry with the same key and
    the same body returns the same order instead of creating a second one."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("courier_id", "key", name="uq_api_idempotency_keys_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    courier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("couriers.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
