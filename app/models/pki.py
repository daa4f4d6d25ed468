from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

CA_KIND_ROOT = "root"
CA_KIND_INTERMEDIATE = "intermediate"

# Stored lifecycle of a CA row; "expired" and "offline" are derived for display.
CA_PENDING = "pending"
CA_ACTIVE = "active"
CA_FAILED = "failed"
CA_REVOKED = "revoked"


class CertificateAuthority(db.Model):
    """A Local PKI root or intermediate. The private key is stored only encrypted
    (``encrypted_private_key``, AES-256-GCM under the worker's key-encryption key)."""

    __tablename__ = "certificate_authorities"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificate_authorities.id"), nullable=True
    )
    common_name: Mapped[str] = mapped_column(String(64), unique=True)
    organization: Mapped[str | None] = mapped_column(String(64), nullable=True)
    organizational_unit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    state: Mapped[str | None] = mapped_column(String(128), nullable=True)
    locality: Mapped[str | None] = mapped_column(String(128), nullable=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(16))
    validity_days: Mapped[int] = mapped_column(Integer)
    path_length: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Intermediates: the EKUs they may certify (None: unrestricted, e.g. a root or a CA
    # made before issue 12) and their permitted DNS subtrees (None/[]: unconstrained).
    extended_key_usage: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    permitted_dns: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)

    status: Mapped[str] = mapped_column(String(16), default=CA_PENDING, index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    certificate_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    encrypted_private_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    key_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    serial_hex: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fingerprint_sha256: Mapped[str | None] = mapped_column(String(95), nullable=True)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )

    parent: Mapped[CertificateAuthority | None] = relationship(
        remote_side="CertificateAuthority.id", back_populates="children"
    )
    children: Mapped[list[CertificateAuthority]] = relationship(back_populates="parent")

    @property
    def is_root(self) -> bool:
        return self.kind == CA_KIND_ROOT

    @property
    def has_key(self) -> bool:
        return self.encrypted_private_key is not None

    @property
    def is_expired(self) -> bool:
        return self.not_after is not None and self.not_after <= utcnow()

    @property
    def display_status(self) -> str:
        """What the operator sees: a stored state, or ``expired`` / ``offline`` when an
        active CA can no longer sign (past notAfter / key exported and removed)."""
        if self.status != CA_ACTIVE:
            return self.status
        if self.is_expired:
            return "expired"
        if not self.has_key:
            return "offline"
        return CA_ACTIVE

    @property
    def can_sign(self) -> bool:
        return self.display_status == CA_ACTIVE

    @property
    def is_settled(self) -> bool:
        """No background work is outstanding for this row (the status page stops polling)."""
        return self.status != CA_PENDING


class KeyExport(db.Model):
    """A one-time, passphrase-protected export of a CA private key, prepared by the worker."""

    __tablename__ = "key_exports"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    ca_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("certificate_authorities.id"))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    remove_key: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # PKCS#8 encrypted under the requester's passphrase; wiped at the single download.
    encrypted_pem: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    ca: Mapped[CertificateAuthority] = relationship()
