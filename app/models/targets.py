"""Bridges, target systems, certificate profiles and deployments (issue 17): certificates
the platform provisions, renews and deploys to on-premises servers by itself."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.certificates import Certificate


class Bridge(db.Model):
    """An agent near the servers. It polls the platform (no inbound port); the client
    secret is stored only as a hash; deployment keys are encrypted to ``public_key_pem``;
    ``token_generation`` revokes every bearer token at a rotation or a disable."""

    __tablename__ = "bridges"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    token_generation: Mapped[int] = mapped_column(Integer, default=0)
    public_key_pem: Mapped[str] = mapped_column(Text)
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, default=30)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TargetSystem(db.Model):
    """A server one bridge reaches: where the files go (``paths``, by kind), their owner
    and modes, how to reload it and which TLS endpoint to probe afterwards. Its current
    certificate is that of its newest succeeded deployment (no foreign key back to
    certificates, which would close a cycle through orders)."""

    __tablename__ = "target_systems"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    bridge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bridges.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))             # nginx | haproxy | files
    paths: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    file_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    file_group: Mapped[str | None] = mapped_column(String(64), nullable=True)
    file_mode: Mapped[int] = mapped_column(Integer, default=0o644)
    key_mode: Mapped[int] = mapped_column(Integer, default=0o600)
    reload_command: Mapped[str] = mapped_column(Text, default="")
    reload_timeout_seconds: Mapped[int] = mapped_column(Integer, default=30)
    probe_host: Mapped[str] = mapped_column(String(253))
    probe_port: Mapped[int] = mapped_column(Integer, default=443)
    probe_sni: Mapped[str | None] = mapped_column(String(253), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the bridge last reported: the serial served at the last probe, and when.
    served_serial: Mapped[str | None] = mapped_column(String(64), nullable=True)
    probed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    bridge: Mapped[Bridge] = relationship(lazy="joined")
    profiles: Mapped[list[CertificateProfile]] = relationship(
        back_populates="target", order_by="CertificateProfile.name")


class CertificateProfile(db.Model):
    """A request template on a target system plus its renewal rule. ``order_key`` is the
    last order made for it (``initial`` or ``renew:<certificate id>``): claimed by a
    conditional update in the order's transaction, so each order is made once."""

    __tablename__ = "certificate_profiles"
    __table_args__ = (UniqueConstraint("target_system_id", "name",
                                       name="uq_certificate_profiles_target_name"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    target_system_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("target_systems.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    template: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    renew_before_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    order_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    target: Mapped[TargetSystem] = relationship(back_populates="profiles", lazy="joined")


class Deployment(db.Model):
    """One certificate going to one target through its bridge: pending → in_progress →
    succeeded | failed (or superseded by a newer one before the bridge took it). The key
    waits as a JWE to the bridge's public key (made by the worker) until it is finished."""

    __tablename__ = "deployments"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    target_system_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("target_systems.id", ondelete="CASCADE"), index=True)
    bridge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bridges.id"), index=True)
    certificate_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("certificates.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificate_profiles.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    key_jwe: Mapped[str | None] = mapped_column(Text, nullable=True)
    served_serial: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    target: Mapped[TargetSystem] = relationship(lazy="joined")
    certificate: Mapped[Certificate] = relationship(lazy="joined")
    steps: Mapped[list[DeploymentStep]] = relationship(
        order_by="DeploymentStep.position", cascade="all, delete-orphan", lazy="selectin")


class DeploymentStep(db.Model):
    """One step the bridge reported (write, reload, probe, restore …) with its output."""

    __tablename__ = "deployment_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(32))
    ok: Mapped[bool] = mapped_column(Boolean)
    output: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
