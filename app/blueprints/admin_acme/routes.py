"""Admin → ACME Servers: list, create and edit server configurations, enable/disable,
pre-create accounts (EAB credentials shown once) and enable/disable them."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.blueprints.admin_acme.forms import AcmeAccountForm, AcmeServerForm
from app.blueprints.forms import ActionForm, attach_error, choices
from app.domain.roles import Permission
from app.models import AcmeServer
from app.services import acme_admin
from app.services.errors import ServiceError
from app.web.access import require
from app.web.htmx import no_store

bp = Blueprint("admin_acme", __name__, url_prefix="/admin/acme")


def _with_issuers(form: AcmeServerForm) -> AcmeServerForm:
    form.issuer.choices = choices([("", "Choose an intermediate…")] + [
        (str(ca.id), ca.common_name) for ca in acme_admin.issuer_choices()])
    return form


def _settings(form: AcmeServerForm) -> acme_admin.ServerSettings:
    return acme_admin.ServerSettings(
        name=form.name.data, issuer=form.issuer.data, default_days=form.default_days.data,
        max_days=form.max_days.data, allowed_algorithms=tuple(form.allowed_algorithms.data),
        digest=form.digest.data, terms_of_service_url=form.terms_of_service_url.data or None,
        orders_per_hour=form.orders_per_hour.data)


@bp.get("/")
@require(Permission.MANAGE_DEPLOYMENT)
def index() -> str:
    servers = acme_admin.list_servers()
    counts = acme_admin.account_counts()
    return render_template("admin_acme/index.html", servers=servers, counts=counts,
                           directory_url=acme_admin.directory_url, action_form=ActionForm())


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def create() -> Response | tuple[str, int]:
    form = _with_issuers(AcmeServerForm())
    if form.validate_on_submit():
        try:
            server = acme_admin.create_server(_settings(form), actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "name")
        else:
            flash(f"Created ACME server '{server.name}'. Add accounts for your ACME clients.",
                  "success")
            return redirect(url_for("admin_acme.edit", server_id=server.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin_acme/new.html", form=form,
                           has_issuers=bool(form.issuer.choices[1:])), status


def _initial(server: AcmeServer) -> dict:
    return {"name": server.name, "issuer": str(server.issuer_id),
            "default_days": server.default_days, "max_days": server.max_days,
            "allowed_algorithms": server.allowed_algorithms, "digest": server.digest,
            "terms_of_service_url": server.terms_of_service_url or "",
            "orders_per_hour": server.orders_per_hour}


@bp.route("/<server_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def edit(server_id: str) -> Response | tuple[str, int]:
    server = acme_admin.get_server(server_id)
    form = _with_issuers(AcmeServerForm(data=None if request.method == "POST"
                                        else _initial(server)))
    if form.validate_on_submit():
        try:
            acme_admin.update_server(server, _settings(form), actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "name")
        else:
            flash(f"Saved ACME server '{server.name}'.", "success")
            return redirect(url_for("admin_acme.edit", server_id=server.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin_acme/edit.html", form=form, server=server,
                           accounts=acme_admin.list_accounts(server),
                           directory_url=acme_admin.directory_url(server),
                           action_form=ActionForm()), status


@bp.post("/<server_id>/enabled")
@require(Permission.MANAGE_DEPLOYMENT)
def set_enabled(server_id: str) -> Response:
    server = acme_admin.get_server(server_id)
    enabled = request.form.get("enabled") == "1"
    acme_admin.set_server_enabled(server, enabled, actor=current_user)
    flash(f"{'Enabled' if enabled else 'Disabled'} ACME server '{server.name}'.", "success")
    return redirect(url_for("admin_acme.index"), code=303)


@bp.route("/<server_id>/accounts/new", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def create_account(server_id: str) -> Response | tuple[str, int]:
    server = acme_admin.get_server(server_id)
    form = AcmeAccountForm()
    if form.validate_on_submit():
        try:
            made = acme_admin.create_account(server, form.name.data, form.email.data,
                                             form.binding_lines(), actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "bindings")
        else:
            return no_store(make_response(render_template(
                "admin_acme/credentials.html", server=server, made=made,
                directory_url=acme_admin.directory_url(server)), 201))
    status = 422 if request.method == "POST" else 200
    return render_template("admin_acme/account_new.html", form=form, server=server), status


@bp.post("/<server_id>/accounts/<account_id>/enabled")
@require(Permission.MANAGE_DEPLOYMENT)
def set_account_enabled(server_id: str, account_id: str) -> Response:
    server = acme_admin.get_server(server_id)
    account = acme_admin.get_account(server, account_id)
    enabled = request.form.get("enabled") == "1"
    acme_admin.set_account_enabled(account, enabled, actor=current_user)
    flash(f"{'Enabled' if enabled else 'Disabled'} account '{account.name}'.", "success")
    return redirect(url_for("admin_acme.edit", server_id=server.id), code=303)
