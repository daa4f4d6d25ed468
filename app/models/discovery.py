"""Discovery: where certificates were seen (locations), the endpoints to scan (targets),
and scans with one result row per endpoint (the page shows them as they arrive)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.endpoints import endpoint_of
from app.extensions import db
from app.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.certificates import Certificate

SCAN_PENDING = "pending"
SCAN_RUNNING = "running"
SCAN_COMPLETE = "complete"

RESULT_PENDING = "pending"
RESULT_OK = "ok"
RESULT_FAILED = "failed"

TRIGGER_MANUAL = "manual"
TRIGGER_SCHEDULED = "scheduled"


class CertificateLocation(db.Model):
    """An endpoint (host, port, SNI name) a certificate was served on, and when."""

    __tablename__ = "certificate_locations"
    __table_args__ = (UniqueConstraint("certificate_id", "host", "port", "server_name",
                                       name="uq_certificate_locations_endpoint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    certificate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("certificates.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    server_name: Mapped[str] = mapped_column(String(253), default="")   # SNI sent ("" none)
    address: Mapped[str] = mapped_column(String(64), default="")        # the IP connected
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.host, self.port)


class ScanTarget(db.Model):
    """A saved endpoint, re-scanned on schedule; remembers what it served last time so a
    change of certificate is noticed."""

    __tablename__ = "discovery_targets"
    __table_args__ = (UniqueConstraint("host", "port", "server_name",
                                       name="uq_discovery_targets_endpoint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    server_name: Mapped[str] = mapped_column(String(253), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_fingerprint: Mapped[str | None] = mapped_column(String(95), nullable=True)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DiscoveryScan(db.Model):
    """One run over a list of endpoints, done by the worker."""

    __tablename__ = "discovery_scans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), default=SCAN_PENDING, index=True)
    trigger: Mapped[str] = mapped_column(String(16), default=TRIGGER_MANUAL)
    requested_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    results: Mapped[list[ScanResult]] = relationship(
        back_populates="scan", order_by="ScanResult.position")

    @property
    def is_settled(self) -> bool:
        return self.status == SCAN_COMPLETE


class ScanResult(db.Model):
    """What one endpoint served in one scan, or why nothing could be read."""

    __tablename__ = "discovery_scan_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("discovery_scans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    server_name: Mapped[str] = mapped_column(String(253), default="")
    status: Mapped[str] = mapped_column(String(16), default=RESULT_PENDING)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    certificate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL"), nullable=True)
    fingerprint_sha256: Mapped[str | None] = mapped_column(String(95), nullable=True)
    chain_length: Mapped[int] = mapped_column(Integer, default=0)
    new_certificate: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_fingerprint: Mapped[str | None] = mapped_column(String(95), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    scan: Mapped[DiscoveryScan] = relationship(back_populates="results")
    certificate: Mapped[Certificate | None] = relationship(viewonly=True)

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.host, self.port)

    @property
    def changed(self) -> bool:
        """The endpoint served another certificate the last time it was scanned."""
        return bool(self.previous_fingerprint and self.fingerprint_sha256
                    and self.previous_fingerprint != self.fingerprint_sha256)
