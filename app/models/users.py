from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.roles import Permission, Role, is_domain_restricted, role_allows
from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.domains import user_domains

if TYPE_CHECKING:
    from app.models.domains import Domain


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), default=Role.USER)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # Expiry e-mails (Account page); on unless the user turns them off.
    email_notifications: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    domains: Mapped[list[Domain]] = relationship(
        secondary=user_domains, order_by="Domain.name", lazy="selectin"
    )

    # Set per request by the session loader (not a column): Flask-Login stores get_id() in
    # the signed cookie, and for us that is the random token of a UserSession row.
    session_token = None

    def get_id(self) -> str:
        if not self.session_token:
            raise RuntimeError("log users in through app.web.sessions.log_in")
        return self.session_token

    @property
    def is_active(self) -> bool:  # Flask-Login refuses sessions of disabled users
        return self.enabled

    def can(self, permission: Permission) -> bool:
        return role_allows(self.role, permission)

    @property
    def is_admin(self) -> bool:
        return not is_domain_restricted(self.role)

    @property
    def display_name(self) -> str:
        return self.name or self.email
