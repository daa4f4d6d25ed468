"""CLM area: home, certificates and orders."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from app.domain.roles import Permission
from app.extensions import db
from app.models import Domain
from app.services import pki

bp = Blueprint("clm", __name__)


@bp.get("/")
@login_required
def home() -> str:
    active_domains = db.session.scalar(
        select(func.count(Domain.id)).where(Domain.enabled.is_(True))) or 0
    active_cas = pki.count_signing_cas()
    return render_template("clm/home.html", active_domains=active_domains,
                           active_cas=active_cas,
                           can_manage_domains=current_user.can(Permission.MANAGE_DOMAINS))
