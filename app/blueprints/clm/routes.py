"""CLM area: home, certificates and orders."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from app.domain.roles import Permission
from app.services import domains, pki

bp = Blueprint("clm", __name__)


@bp.get("/")
@login_required
def home() -> str:
    active_domains = domains.active_domain_count()
    active_cas = pki.active_ca_count()
    return render_template("clm/home.html", active_domains=active_domains,
                           active_cas=active_cas,
                           can_manage_domains=current_user.can(Permission.MANAGE_DOMAINS))
