"""CLM area: the home page, one per role."""
from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.domain.roles import Permission
from app.services import home as home_service

bp = Blueprint("clm", __name__)


@bp.get("/")
@login_required
def home() -> str:
    """A plain user sees their own orders, expiring certificates and open alerts; admin
    roles see the platform's counts (and their own recent orders)."""
    platform = home_service.platform_home() if home_service.shows_platform(current_user) \
        else None
    return render_template("clm/home.html", mine=home_service.user_home(current_user),
                           platform=platform, window=home_service.EXPIRY_WINDOW_DAYS,
                           can_manage_domains=current_user.can(Permission.MANAGE_DOMAINS))


@bp.get("/favicon.ico")
def favicon() -> Response:
    """For clients that ask for /favicon.ico without reading the page's icon link."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
