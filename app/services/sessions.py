"""Server-side records of browser logins (``UserSession``).

A login makes a random token; the signed session cookie carries it and the database keeps
its SHA-256. A request is logged in only while its row is live: not ended, seen within
SESSION_IDLE_SECONDS (8 h) and started within SESSION_MAX_SECONDS (24 h). Logout ends one
session; a password change or reset, a role change and disabling the account end all of
the user's sessions (``end_all``).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import lazyload

from app.extensions import db
from app.models import User, UserSession
from app.models.base import utcnow
from app.services.errors import NotFound

# last_seen_at is written at most this often per session (not on every request).
TOUCH_INTERVAL = timedelta(seconds=60)
# Ended rows are kept this long (with the reason), then removed at the user's next login.
KEEP_ENDED = timedelta(days=7)

LOGOUT = "logout"
ENDED_BY_USER = "ended_by_user"
IDLE = "idle"
EXPIRED = "expired"
PASSWORD_CHANGED = "password_changed"  # noqa: S105 (a reason label)
PASSWORD_RESET = "password_reset"  # noqa: S105 (a reason label)
ROLE_CHANGED = "role_changed"
DISABLED = "disabled"


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    maximum: timedelta


def limits() -> Limits:
    return Limits(idle=timedelta(seconds=current_app.config["SESSION_IDLE_SECONDS"]),
                  maximum=timedelta(seconds=current_app.config["SESSION_MAX_SECONDS"]))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expires_at(row: UserSession, bounds: Limits | None = None) -> datetime:
    bounds = bounds or limits()
    return min(row.last_seen_at + bounds.idle, row.created_at + bounds.maximum)


def end_reason(created_at: datetime, last_seen_at: datetime, now: datetime,
               bounds: Limits) -> str | None:
    """Why a session not yet ended is over at ``now`` (EXPIRED, IDLE), or None if live."""
    if now >= created_at + bounds.maximum:
        return EXPIRED
    return IDLE if now >= last_seen_at + bounds.idle else None


def needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    """Whether a request now should write the session's ``last_seen_at``."""
    return now - last_seen_at >= TOUCH_INTERVAL


def start(user: User, ip: str | None, user_agent: str | None) -> str:
    """Record a new session for ``user`` and return its token (for the cookie only).
    The user's rows that ended a week ago or more are removed on the way."""
    _purge_dead(user.id)
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(UserSession(user_id=user.id, token_hash=_hash(token), created_at=now,
                               last_seen_at=now, ip=(ip or None) and ip[:45],
                               user_agent=(user_agent or "")[:255]))
    db.session.commit()
    return token


def resolve(token: str) -> tuple[User, UserSession] | None:
    """The user and live session a cookie's token stands for, else None. A session found
    idle or past its lifetime is ended here; a live one has its last activity updated."""
    # One statement for the session and its user (this runs on every request); the user's
    # domains load only when a page asks for them (an administrator's pages never do).
    found = db.session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _hash(token))
        .options(lazyload(User.domains))).first()
    if found is None:
        return None
    row, user = found
    if row.ended_at is not None:
        return None
    now = utcnow()
    reason = end_reason(row.created_at, row.last_seen_at, now, limits())
    if reason:
        end(row, reason)
        return None
    if needs_touch(row.last_seen_at, now):
        row.last_seen_at = now
        db.session.commit()
    return user, row


def end(row: UserSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason
        db.session.commit()


def end_all(user_id: int, reason: str) -> int:
    """End every live session of a user; joins the caller's transaction (not committed)."""
    return db.session.execute(update(UserSession).where(
        UserSession.user_id == user_id, UserSession.ended_at.is_(None)
    ).values(ended_at=utcnow(), end_reason=reason)).rowcount


def live_sessions(user: User) -> list[UserSession]:
    """The user's sessions that would still log in, most recently active first."""
    now, bounds = utcnow(), limits()
    rows = db.session.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None),
        UserSession.created_at > now - bounds.maximum,
        UserSession.last_seen_at > now - bounds.idle,
    ).order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()))
    return list(rows)


def end_session_of(user: User, session_id: int) -> UserSession:
    """End one of ``user``'s own sessions; another user's id is simply not found."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such session.", code="session.not_found")
    end(row, ENDED_BY_USER)
    return row


def _purge_dead(user_id: int) -> None:
    long_ago = utcnow() - KEEP_ENDED
    db.session.execute(delete(UserSession).where(
        UserSession.user_id == user_id,
        or_(UserSession.ended_at <= long_ago,
            UserSession.created_at <= long_ago - limits().maximum)))
