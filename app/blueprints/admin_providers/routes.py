"""Admin → Certificate Providers (PKI admins and super admins): list, create, edit,
activate/deactivate, delete, and "Test connection" run by the worker (SPEC 4).

Service errors (unknown id → 404, delete refused → 409 …) are rendered by the one
handler in ``app/web/errors.py``; form-level refusals are shown next to their field."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.blueprints.admin_providers.forms import (
    AcmeProviderForm,
    DigiCertProviderForm,
    GlobalSignProviderForm,
    ProviderNameForm,
)
from app.blueprints.forms import ActionForm, attach_error
from app.domain.providers import ACME, DIGICERT, GLOBALSIGN
from app.domain.roles import Permission
from app.models import Provider
from app.services import providers
from app.services.errors import QueueUnavailable, ServiceError
from app.web.access import require
from app.web.htmx import is_htmx, no_store, render_page

bp = Blueprint("admin_providers", __name__, url_prefix="/admin/providers")


FORMS = {ACME: AcmeProviderForm, DIGICERT: DigiCertProviderForm,
         GLOBALSIGN: GlobalSignProviderForm}
#: The settings template of each type (secrets write-only, shown as "stored").
FIELDS = {ACME: "admin_providers/_acme_fields.html",
          DIGICERT: "admin_providers/_digicert_fields.html",
          GLOBALSIGN: "admin_providers/_globalsign_fields.html"}


def _form_for(provider: Provider | None, data: dict | None = None):
    if provider is not None and provider.is_builtin:
        return ProviderNameForm(data=data)
    return FORMS[provider.type if provider else ACME](data=data)


def _initial(provider: Provider) -> dict:
    config = {k: ("" if v is None else str(v) if isinstance(v, int) else v)
              for k, v in (provider.config or {}).items()}
    return {"name": provider.name, "active": provider.active, **config}


@bp.get("/")
@require(Permission.MANAGE_PKI)
def index() -> str:
    counts = providers.order_counts()
    rows = [(p, counts.get(p.id, 0)) for p in providers.list_providers()]
    return render_template("admin_providers/index.html", rows=rows, action_form=ActionForm(),
                           type_label=providers.type_label)


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.MANAGE_PKI)
def create() -> Response | tuple[str, int]:
    provider_type = request.args.get("type") or ACME
    if provider_type not in FORMS:
        provider_type = ACME
    form = FORMS[provider_type]()
    if form.validate_on_submit():
        try:
            provider = providers.create_provider(provider_type, form.name.data, form.config(),
                                                 form.secrets(), active=form.active.data,
                                                 actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "name")
        else:
            flash(f"Created provider '{provider.name}'. Test the connection before using it.",
                  "success")
            return redirect(url_for("admin_providers.edit", provider_id=provider.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin_providers/new.html", form=form, provider_type=provider_type,
                           fields=FIELDS[provider_type], types=list(FORMS),
                           type_label=providers.type_label), status


@bp.route("/<provider_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_PKI)
def edit(provider_id: str) -> Response | tuple[str, int]:
    provider = providers.get_provider(provider_id)
    form = _form_for(provider, None if request.method == "POST" else _initial(provider))
    if form.validate_on_submit():
        config = form.config() if hasattr(form, "config") else {}
        secrets = form.secrets() if hasattr(form, "secrets") else {}
        try:
            changed = providers.update_provider(provider, name=form.name.data, config=config,
                                                secrets=secrets, active=form.active.data,
                                                actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "name")
        else:
            flash(f"Saved provider '{provider.name}'." if changed else
                  "Nothing changed.", "success" if changed else "info")
            return redirect(url_for("admin_providers.edit", provider_id=provider.id), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin_providers/edit.html", form=form, provider=provider,
                           fields=FIELDS.get(provider.type),
                           order_count=providers.order_count(provider),
                           type_label=providers.type_label,
                           action_form=ActionForm()), status


@bp.post("/<provider_id>/active")
@require(Permission.MANAGE_PKI)
def set_active(provider_id: str) -> Response:
    provider = providers.get_provider(provider_id)
    active = request.form.get("active") == "1"
    providers.set_active(provider, active, actor=current_user)
    flash(f"{'Activated' if active else 'Deactivated'} provider '{provider.name}'.", "success")
    if request.form.get("back") == "detail":
        return redirect(url_for("admin_providers.edit", provider_id=provider.id), code=303)
    return redirect(url_for("admin_providers.index"), code=303)


@bp.post("/<provider_id>/delete")
@require(Permission.MANAGE_PKI)
def delete(provider_id: str) -> Response:
    provider = providers.get_provider(provider_id)
    name = provider.name
    try:
        providers.delete_provider(provider, actor=current_user)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin_providers.edit", provider_id=provider.id), code=303)
    flash(f"Deleted provider '{name}'.", "success")
    return redirect(url_for("admin_providers.index"), code=303)


@bp.post("/<provider_id>/test")
@require(Permission.MANAGE_PKI)
def test(provider_id: str) -> Response:
    provider = providers.get_provider(provider_id)
    try:
        providers.request_connection_test(provider, actor=current_user)
    except QueueUnavailable as exc:
        if not is_htmx():
            flash(exc.message, "error")
    if is_htmx():
        return _test_status(provider)
    return redirect(url_for("admin_providers.edit", provider_id=provider.id), code=303)


@bp.get("/<provider_id>/test")
@require(Permission.MANAGE_PKI)
def test_status(provider_id: str) -> Response:
    return _test_status(providers.get_provider(provider_id))


def _test_status(provider: Provider) -> Response:
    """The test's progress; polls itself while the worker is on it (stops when done)."""
    return no_store(render_page("admin_providers/test_status.html",
                                "admin_providers/_test_status.html", provider=provider,
                                action_form=ActionForm()))
