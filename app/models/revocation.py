from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class Crl(db.Model):
    """A CRL the worker signed for an issuing CA; the web serves the newest one."""

    __tablename__ = "crls"
    __table_args__ = (UniqueConstraint("ca_id", "number", name="uq_crls_ca_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ca_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("certificate_authorities.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(BigInteger)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[datetime] = mapped_column(UTCDateTime)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OcspResponse(db.Model):
    """The pre-signed OCSP response (DER) for one serial of one issuing CA, signed by the
    worker directly with the CA's key, served as is by the web."""

    __tablename__ = "ocsp_responses"
    __table_args__ = (UniqueConstraint("issuer_ca_id", "serial_hex",
                                       name="uq_ocsp_responses_issuer_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_ca_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("certificate_authorities.id", ondelete="CASCADE"))
    serial_hex: Mapped[str] = mapped_column(String(64))
    cert_status: Mapped[str] = mapped_column(String(16))      # good | revoked
    this_update: Mapped[datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)
