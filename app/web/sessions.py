"""Browser logins backed by ``UserSession`` rows (see ``app.services.sessions``).

Flask-Login keeps ``get_id()`` in the signed session cookie; for us that is the session's
random token, so the loader finds the row, and a cookie whose row has ended (logout,
password change, expiry) is just an anonymous visitor."""
from __future__ import annotations

from flask import Flask, g, request, session
from flask_login import current_user, login_user, logout_user

from app.extensions import db, login_manager
from app.models import User, UserSession
from app.services import sessions


def register(app: Flask) -> None:
    @login_manager.user_loader
    def load_user(token: str) -> User | None:
        found = sessions.resolve(token)
        if found is None:
            return None
        user, row = found
        user.session_token = token
        g.user_session_id = row.id
        return user


def log_in(user: User) -> None:
    """Start a new server-side session for ``user`` in this browser. Whatever the cookie
    held before is dropped first, so a session id planted before login is worthless."""
    session.clear()
    user.session_token = sessions.start(user, request.remote_addr,
                                        request.headers.get("User-Agent"))
    login_user(user)
    g.user_session_id = None  # looked up again on the next request


def log_out(reason: str = sessions.LOGOUT) -> None:
    """End this browser's session (server side too) and forget it in the cookie."""
    row = current_session()
    if row is not None:
        sessions.end(row, reason)
    logout_user()
    session.clear()


def current_session() -> UserSession | None:
    if not current_user.is_authenticated:
        return None
    session_id = g.get("user_session_id")
    return db.session.get(UserSession, session_id) if session_id else None


def current_session_id() -> int | None:
    row = current_session()
    return row.id if row else None
