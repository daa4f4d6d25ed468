"""Template filters, globals, and the request hooks every page relies on."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.domain.roles import ROLE_LABELS, Permission, Role

ALLOWED_WHILE_PASSWORD_CHANGE = {"auth.change_password", "auth.logout", "static"}


def register_template_helpers(app: Flask) -> None:
    app.jinja_env.globals.update(Permission=Permission)
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["role_label"] = lambda r: ROLE_LABELS.get(Role(r), r)
    app.jinja_env.filters["days_left"] = days_left
    app.jinja_env.filters["combine_status"] = lambda args, status: {**args, "status": status}

    @app.before_request
    def force_password_change() -> Response | None:
        if (current_user.is_authenticated and current_user.must_change_password
                and request.endpoint not in ALLOWED_WHILE_PASSWORD_CHANGE):
            return redirect(url_for("auth.change_password"))
        return None


def format_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def days_left(value: datetime | None) -> str:
    if value is None:
        return "—"
    from app.models.base import utcnow

    return str((value - utcnow()).days)
