from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.orders import is_terminal
from app.extensions import db
from app.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.certificates import Certificate
    from app.models.providers import Provider


class Order(db.Model):
    """One certificate request on its way to a certificate (SPEC section 7)."""

    __tablename__ = "orders"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(16))          # local_pki | acme | external_ca
    pathway: Mapped[str] = mapped_column(String(16))       # wizard | csr_upload | courier | …
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    common_name: Mapped[str] = mapped_column(String(253), index=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    provider_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("certificate_providers.id"), index=True)
    requested_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    requested_by_label: Mapped[str] = mapped_column(String(254))
    requested_by_kind: Mapped[str] = mapped_column(String(16), default="user")
    requested_by_courier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("couriers.id", ondelete="SET NULL"), nullable=True, index=True)
    requested_by_acme_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("acme_accounts.id", ondelete="SET NULL"), nullable=True, index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The requester's CSR (csr_upload / courier / acme pathways); None when we make the key.
    csr_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Times a worker has started this order (the sweeper gives up after a few lost workers).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # An order waiting on an external CA: the CA's order id (never submitted again once
    # set), when to ask next, how many checks were made (the check job's id and claim), a
    # platform-made key kept (under the KEK) until the certificate arrives, and the lint
    # findings recorded on the CA's certificate.
    external_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True,
                                                           index=True)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    pending_key_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    lint_findings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)

    # A renewal names the order and certificate it renews (the ACME server's RFC 9773
    # ``replaces`` sets them; SPEC 10). ``use_alter``: orders and certificates reference
    # each other.
    renews_order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), nullable=True, index=True)
    renews_certificate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL", use_alter=True), nullable=True,
        index=True)

    certificate: Mapped[Certificate | None] = relationship(
        back_populates="order", uselist=False, foreign_keys="Certificate.order_id")
    provider: Mapped[Provider] = relationship(lazy="joined")
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.id", cascade="all, delete-orphan")

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.status)

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.submitted_at).total_seconds()


class OrderEvent(db.Model):
    """The order's timeline: one row per transition (and creation)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"),
                                                index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")

    order: Mapped[Order] = relationship(back_populates="events")
