from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.discovery import CertificateLocation
    from app.models.orders import Order

SOURCE_MANAGED = "managed"
SOURCE_DISCOVERED = "discovered"


# Partial indexes over live (not revoked) certificates, as each database writes the test.
_LIVE_ONLY = {"postgresql_where": text("revoked IS false"), "sqlite_where": text("revoked IS 0")}


class Certificate(db.Model):
    """The inventory: one row per certificate, issued here (``managed``) or imported
    (``discovered``). At most one certificate per order (unique ``order_id``)."""

    __tablename__ = "certificates"
    # The OCSP responder and the CRL look certificates up by (issuing CA, serial).
    __table_args__ = (
        Index("ix_certificates_issuer_serial", "issuer_ca_id", "serial_hex"),
        # The home page's "expiring within 30 days" count: an index-only range scan of
        # the live certificates, not a heap visit per certificate in the window.
        Index("ix_certificates_live_not_after", "not_after", **_LIVE_ONLY),
        # A user's home: their own live certificates expiring soonest, and how many.
        Index("ix_certificates_owner_live_not_after", "owner_user_id", "not_after",
              **_LIVE_ONLY),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), nullable=True, unique=True)
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_MANAGED, index=True)
    common_name: Mapped[str] = mapped_column(String(253), index=True)
    sans: Mapped[list[str]] = mapped_column(JSON, default=list)
    issuer_dn: Mapped[str] = mapped_column(Text)
    issuer_ca_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificate_authorities.id", ondelete="SET NULL"), nullable=True, index=True)
    provider: Mapped[str] = mapped_column(String(100))          # the provider's name then
    provider_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificate_providers.id", ondelete="SET NULL"), nullable=True,
        index=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(16))
    serial_hex: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint_sha256: Mapped[str] = mapped_column(String(95), unique=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # While an external CA is asked to revoke (the reason asked for), and the CA's refusal.
    revocation_pending: Mapped[str | None] = mapped_column(String(32), nullable=True)
    revocation_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    certificate_pem: Mapped[str] = mapped_column(Text)
    chain_pem: Mapped[str] = mapped_column(Text, default="")
    # Only when the platform made the key; AES-256-GCM token bound to this row's id.
    encrypted_private_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    # For a courier's platform-made key: the key as a JWE to the courier's public key,
    # made by the worker at issuance, and the only copy (not also under the KEK). It is
    # handed out once, or deleted after COURIER_KEY_TTL_SECONDS (services/courier_keys.py).
    key_jwe: Mapped[str | None] = mapped_column(Text, nullable=True)
    key_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    key_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    owner_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Discovery: when a scan last saw it served anywhere (its locations say where).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    order: Mapped[Order | None] = relationship(back_populates="certificate",
                                               foreign_keys=[order_id])
    locations: Mapped[list[CertificateLocation]] = relationship(
        order_by="CertificateLocation.last_seen_at.desc()", viewonly=True)

    @property
    def status(self) -> str:
        if self.revoked:
            return "revoked"
        return "expired" if self.not_after <= utcnow() else "active"

    @property
    def other_sans(self) -> list[str]:
        """The SANs besides the common name (what a listing shows next to it)."""
        return [name for name in self.sans if name != self.common_name]

    @property
    def days_left(self) -> int:
        return (self.not_after - utcnow()).days

    @property
    def has_key(self) -> bool:
        return self.encrypted_private_key is not None

    @property
    def key_went_to_courier(self) -> bool:
        return self.key_status is not None


class CertificateExport(db.Model):
    """A one-time, passphrase-protected key export (PKCS#8 or PKCS#12) made by the worker."""

    __tablename__ = "certificate_exports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    certificate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("certificates.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(16))          # pkcs8 | pkcs12
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    payload_b64: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    certificate: Mapped[Certificate] = relationship()
