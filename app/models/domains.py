from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.names import display_domain
from app.extensions import db
from app.models.base import UTCDateTime, utcnow

DOMAIN_KIND_DNS = "dns"
DOMAIN_KIND_NETWORK = "network"

user_domains = Table(
    "user_domains",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("domain_id", ForeignKey("domains.id", ondelete="CASCADE"), primary_key=True),
)


class Domain(db.Model):
    """A registered domain (A-label form) or IP network (CIDR). Active = enabled."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=DOMAIN_KIND_DNS)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_network(self) -> bool:
        return self.kind == DOMAIN_KIND_NETWORK

    @property
    def display_name(self) -> str:
        return self.name if self.is_network else display_domain(self.name)
