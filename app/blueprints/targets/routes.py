"""CLM → Target systems: the servers bridges deploy to, their certificate profiles, and
their deployments (updating live). Deployment admins and super admins."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.blueprints.forms import attach_error, choices
from app.blueprints.targets.forms import ProfileForm, TargetEditForm, TargetForm, field_for
from app.domain.roles import Permission
from app.models import TargetSystem
from app.services import bridges, provisioning, target_systems
from app.services.errors import ServiceError
from app.web.access import require
from app.web.htmx import render_page

bp = Blueprint("targets", __name__, url_prefix="/targets")


def _show(form: FlaskForm, error: ServiceError, default: str) -> None:
    """Every violation next to its field (a refused target or template lists them all)."""
    for violation in getattr(error, "violations", None) or ():
        field = getattr(form, field_for(violation) or "", None)
        if field is not None:
            field.errors = [*field.errors, violation.message]
        else:
            form.form_errors.append(violation.message)
    if not getattr(error, "violations", None):
        attach_error(form, error, default)


def _bridge_choices(form: TargetForm) -> None:
    form.bridge.choices = choices((str(b.id), b.name + ("" if b.enabled else " (disabled)"))
                                  for b in bridges.list_bridges())


@bp.get("/")
@require(Permission.MANAGE_DEPLOYMENT)
def index() -> str:
    return render_template("targets/index.html", rows=target_systems.list_targets(),
                           deployed=target_systems.deployed_certificate,
                           bridges_exist=bool(bridges.list_bridges()))


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def create() -> Response | tuple[str, int]:
    form = TargetForm()
    _bridge_choices(form)
    if form.validate_on_submit():
        try:
            target = target_systems.create_target(
                form.name.data, bridges.get_bridge(form.bridge.data), form.spec(),
                actor=current_user)
        except ServiceError as exc:
            _show(form, exc, "name")
        else:
            flash(f"Created target system '{target.name}'. Add a certificate profile.",
                  "success")
            return redirect(url_for("targets.detail", target_id=target.id))
    status = 422 if request.method == "POST" else 200
    return render_template("targets/new.html", form=form), status


def _detail(target: TargetSystem, form: TargetEditForm, profile_form: ProfileForm,
            status: int = 200) -> tuple[str, int]:
    return render_template(
        "targets/detail.html", target=target, form=form, profile_form=profile_form,
        current=target_systems.current_certificate,
        deployments=target_systems.deployments_of(target),
        deployed=target_systems.deployed_certificate(target)), status


@bp.route("/<target_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def detail(target_id: str) -> Response | tuple[str, int]:
    target = target_systems.get_target(target_id)
    form = TargetEditForm(data=None if request.method == "POST" else {
        "name": target.name, "bridge": str(target.bridge_id), "enabled": target.enabled})
    _bridge_choices(form)
    if request.method == "GET":
        form.fill(target_systems.spec_of(target))
    elif form.validate_on_submit():
        try:
            changed = target_systems.update_target(
                target, form.name.data, bridges.get_bridge(form.bridge.data), form.spec(),
                form.enabled.data, actor=current_user)
        except ServiceError as exc:
            _show(form, exc, "name")
        else:
            flash(f"Saved target system '{target.name}'." if changed else
                  "Nothing changed.", "success" if changed else "info")
            return redirect(url_for("targets.detail", target_id=target.id))
    return _detail(target, form, ProfileForm(formdata=None),
                   422 if request.method == "POST" else 200)


@bp.get("/<target_id>/status")
@require(Permission.MANAGE_DEPLOYMENT)
def status(target_id: str) -> Response:
    """The live part of the page: served serial, last probe, deployment history."""
    target = target_systems.get_target(target_id)
    return render_page("targets/_status.html", "targets/_status.html", target=target,
                       deployments=target_systems.deployments_of(target),
                       deployed=target_systems.deployed_certificate(target))


@bp.post("/<target_id>/profiles")
@require(Permission.MANAGE_DEPLOYMENT)
def add_profile(target_id: str) -> Response | tuple[str, int]:
    target = target_systems.get_target(target_id)
    profile_form = ProfileForm()
    if profile_form.validate_on_submit():
        try:
            _, order = provisioning.create_profile(
                target, profile_form.name.data, profile_form.values(),
                renew_before_days=profile_form.renew_before_days.data,
                enabled=profile_form.enabled.data, actor=current_user)
        except ServiceError as exc:
            _show(profile_form, exc, "name")
        else:
            flash(f"Created profile '{profile_form.name.data}'" + (
                "; its first certificate is being ordered." if order else "."), "success")
            return redirect(url_for("targets.detail", target_id=target.id))
    form = TargetEditForm(formdata=None, data={"name": target.name,
                                               "bridge": str(target.bridge_id),
                                               "enabled": target.enabled})
    _bridge_choices(form)
    form.fill(target_systems.spec_of(target))
    return _detail(target, form, profile_form, 422)


@bp.route("/profiles/<profile_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def edit_profile(profile_id: str) -> Response | tuple[str, int]:
    profile = target_systems.get_profile(profile_id)
    template = profile.template
    form = ProfileForm(data=None if request.method == "POST" else {
        "name": profile.name, "common_name": template.get("common_name", ""),
        "sans": "\n".join(template.get("sans", [])),
        "algorithm": template.get("algorithm", "ec-256"),
        "validity_days": template.get("validity_days"),
        "renew_before_days": profile.renew_before_days, "enabled": profile.enabled})
    if form.validate_on_submit():
        try:
            changed = provisioning.update_profile(
                profile, form.values(), renew_before_days=form.renew_before_days.data,
                enabled=form.enabled.data, actor=current_user)
        except ServiceError as exc:
            _show(form, exc, "common_name")
        else:
            flash(f"Saved profile '{profile.name}'." if changed else "Nothing changed.",
                  "success" if changed else "info")
            return redirect(url_for("targets.detail", target_id=profile.target_system_id))
    status = 422 if request.method == "POST" else 200
    return render_template("targets/profile.html", form=form, profile=profile,
                           orders=target_systems.orders_of(profile)), status
