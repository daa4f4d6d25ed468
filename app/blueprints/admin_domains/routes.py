"""Admin → Domains: registered domains and IP networks."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.blueprints.admin_domains.forms import DomainForm
from app.blueprints.forms import ActionForm, attach_error
from app.domain.roles import Permission
from app.models import Domain
from app.services import domains
from app.services.errors import ServiceError
from app.web.access import require
from app.web.htmx import is_htmx, render_page

bp = Blueprint("admin_domains", __name__, url_prefix="/admin/domains")


def _page(form: DomainForm, status: int = 200) -> Response:
    rows = [(d, domains.assigned_user_count(d)) for d in domains.list_domains()]
    return render_page("admin_domains/index.html", "admin_domains/_panel.html", status,
                       form=form, rows=rows, action_form=ActionForm())


@bp.get("/")
@require(Permission.MANAGE_DOMAINS)
def index() -> Response:
    return _page(DomainForm(formdata=None))


@bp.post("/")
@require(Permission.MANAGE_DOMAINS)
def create() -> Response:
    form = DomainForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        domain = domains.add_domain(form.name.data, actor=current_user)
    except ServiceError as exc:
        attach_error(form, exc, "name")
        return _page(form, 422)
    flash(f"Registered {domain.display_name}.", "success")
    if is_htmx():
        return _page(DomainForm(formdata=None))
    return redirect(url_for("admin_domains.index"))


def _get(domain_id: int) -> Domain:
    return domains.get_domain(domain_id)   # NotFound → 404 by the error handler


@bp.post("/<int:domain_id>/enabled")
@require(Permission.MANAGE_DOMAINS)
def set_enabled(domain_id: int) -> Response:
    domain = _get(domain_id)
    domains.set_enabled(domain, request.form.get("enabled") == "1", actor=current_user)
    if is_htmx():
        return render_page("admin_domains/_row.html", domain=domain, action_form=ActionForm(),
                           assigned=domains.assigned_user_count(domain))
    return redirect(url_for("admin_domains.index"))


@bp.post("/<int:domain_id>/delete")
@require(Permission.MANAGE_DOMAINS)
def delete(domain_id: int) -> Response:
    domain = _get(domain_id)
    name = domain.display_name
    try:
        domains.delete_domain(domain, actor=current_user)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Deleted {name}.", "success")
    if is_htmx():
        return _page(DomainForm(formdata=None))
    return redirect(url_for("admin_domains.index"))
