from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

ALERT_POLICY_HARD_FAIL = "policy_hard_fail"
ALERT_POLICY_SOFT_FAIL = "policy_soft_fail"


# Partial indexes over alerts nobody has acknowledged yet.
_OPEN_ONLY = {"postgresql_where": text("acknowledged_at IS NULL"),
              "sqlite_where": text("acknowledged_at IS NULL")}


class CertificateAlert(db.Model):
    """Something about a request or certificate an operator should see. For policy
    violations ``request_key`` identifies the request (a wizard draft, an order, an API
    idempotency key), and the unique constraint keeps one alert per request and rule."""

    __tablename__ = "certificate_alerts"
    __table_args__ = (UniqueConstraint("request_key", "type", "policy_name", "rule",
                                       name="uq_certificate_alerts_request_rule"),
                      # The home page's count of open alerts, from the index alone.
                      Index("ix_certificate_alerts_open", "id", **_OPEN_ONLY),
                      # A user's home: their newest open alerts, and how many.
                      Index("ix_certificate_alerts_requester_open", "requester_user_id", "id",
                            **_OPEN_ONLY))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    request_key: Mapped[str] = mapped_column(String(80))
    policy_name: Mapped[str] = mapped_column(String(100), default="")
    rule: Mapped[str] = mapped_column(String(64), default="")
    code: Mapped[str] = mapped_column(String(64), default="")
    expected: Mapped[str | None] = mapped_column(Text, nullable=True)
    actual: Mapped[str | None] = mapped_column(Text, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    common_name: Mapped[str] = mapped_column(String(253), default="")
    requester_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)
    requester_label: Mapped[str] = mapped_column(String(254), default="")
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL"), nullable=True, index=True)
    # Set at issuance, in the transaction that stores the certificate.
    certificate_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("certificates.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
