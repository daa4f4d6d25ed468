"""CLM → Couriers: automated agents that request certificates over the JSON API
(deployment admins and super admins)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.blueprints.couriers.forms import CourierEditForm, CourierForm
from app.blueprints.forms import ActionForm, attach_error, choices
from app.domain.roles import Permission
from app.models import Courier
from app.services import couriers
from app.services import domains as domain_service
from app.services.errors import ServiceError
from app.web.access import require
from app.web.htmx import one_time_page

bp = Blueprint("couriers", __name__, url_prefix="/couriers")


def _domain_choices() -> list[SelectChoice]:
    return choices((d.id, d.display_name + ("" if d.enabled else " (disabled)"))
                   for d in domain_service.list_domains())


def _get(courier_id: str) -> Courier:
    return couriers.get_courier(courier_id)


def _secret_page(courier: Courier, secret: str, rotated: bool = False) -> Response:
    """The one time the client secret is shown: HTML, never cached."""
    return one_time_page("couriers/secret.html", courier=courier, secret=secret,
                         rotated=rotated)


@bp.get("/")
@require(Permission.MANAGE_DEPLOYMENT)
def index() -> str:
    counts = couriers.order_counts()
    rows = [(c, counts.get(c.id, 0)) for c in couriers.list_couriers()]
    return render_template("couriers/index.html", rows=rows, action_form=ActionForm())


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def create() -> Response | tuple[str, int]:
    form = CourierForm()
    form.domains.choices = _domain_choices()
    if form.validate_on_submit():
        try:
            courier, secret = couriers.create_courier(
                form.name.data, form.domains.data or [], public_key_pem=form.public_key.data,
                actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "name")
        else:
            return _secret_page(courier, secret)
    status = 422 if request.method == "POST" else 200
    return render_template("couriers/new.html", form=form), status


@bp.route("/<courier_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def edit(courier_id: str) -> Response | tuple[str, int]:
    courier = _get(courier_id)
    initial = None if request.method == "POST" else {
        "name": courier.name, "domains": [d.id for d in courier.domains],
        "public_key": courier.encryption_public_key_pem or "", "enabled": courier.enabled}
    form = CourierEditForm(data=initial)
    form.domains.choices = _domain_choices()
    if form.validate_on_submit():
        try:
            couriers.update_courier(courier, name=form.name.data,
                                    domain_ids=form.domains.data or [],
                                    public_key_pem=form.public_key.data,
                                    enabled=form.enabled.data, actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "name")
        else:
            flash(f"Saved courier '{courier.name}'.", "success")
            return redirect(url_for("couriers.edit", courier_id=courier.id))
    status = 422 if request.method == "POST" else 200
    return render_template("couriers/edit.html", form=form, courier=courier,
                           order_count=couriers.order_count(courier),
                           action_form=ActionForm()), status


@bp.post("/<courier_id>/rotate-secret")
@require(Permission.MANAGE_DEPLOYMENT)
def rotate_secret(courier_id: str) -> Response:
    courier = _get(courier_id)
    secret = couriers.rotate_secret(courier, actor=current_user)
    return _secret_page(courier, secret, rotated=True)


@bp.post("/<courier_id>/enabled")
@require(Permission.MANAGE_DEPLOYMENT)
def set_enabled(courier_id: str) -> Response:
    courier = _get(courier_id)
    enabled = request.form.get("enabled") == "1"
    couriers.set_enabled(courier, enabled, actor=current_user)
    flash(f"{'Enabled' if enabled else 'Disabled'} courier '{courier.name}'.", "success")
    if request.form.get("back") == "detail":
        return redirect(url_for("couriers.edit", courier_id=courier.id))
    return redirect(url_for("couriers.index"))


@bp.post("/<courier_id>/delete")
@require(Permission.MANAGE_DEPLOYMENT)
def delete(courier_id: str) -> Response:
    courier = _get(courier_id)
    name = courier.name
    couriers.delete_courier(courier, actor=current_user)
    flash(f"Deleted courier '{name}'.", "success")
    return redirect(url_for("couriers.index"))
