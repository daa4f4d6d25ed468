"""Admin → Users (super admins only)."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.blueprints.admin_users.forms import UserCreateForm, UserEditForm
from app.blueprints.forms import ActionForm, attach_error, choices
from app.domain.roles import Permission
from app.models import User
from app.services import domains as domain_service
from app.services import users
from app.services.errors import ServiceError
from app.web.access import require
from app.web.htmx import one_time_page

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")


def _domain_choices() -> list[SelectChoice]:
    return choices((d.id, d.display_name + ("" if d.enabled else " (disabled)"))
                   for d in domain_service.list_domains())


@bp.get("/")
@require(Permission.MANAGE_USERS)
def index() -> str:
    return render_template("admin_users/index.html", users=users.list_users())


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def create() -> Response | tuple[str, int]:
    form = UserCreateForm()
    form.domains.choices = _domain_choices()
    if form.validate_on_submit():
        try:
            user, one_time = users.create_user(form.email.data, name=form.name.data or "",
                                               role=form.role.data,
                                               domain_ids=form.domains.data or [],
                                               actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "email")
        else:
            return one_time_page("admin_users/created.html", user=user, password=one_time)
    status = 422 if request.method == "POST" else 200
    return render_template("admin_users/new.html", form=form), status


def _get_user(user_id: int) -> User:
    return users.get_user(user_id)   # NotFound → 404 by the error handler


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@require(Permission.MANAGE_USERS)
def edit(user_id: int) -> Response | str | tuple[str, int]:
    user = _get_user(user_id)
    form = UserEditForm(obj=None if request.method == "POST" else user)
    form.domains.choices = _domain_choices()
    if request.method == "GET":
        form.domains.data = [d.id for d in user.domains]
    if form.validate_on_submit():
        try:
            users.update_user(user, role=form.role.data, domain_ids=form.domains.data or [],
                              enabled=form.enabled.data, actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "role")
        else:
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("admin_users.index"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin_users/edit.html", form=form, user=user,
                           reset_form=ActionForm()), status


@bp.post("/<int:user_id>/reset-password")
@require(Permission.MANAGE_USERS)
def reset_password(user_id: int) -> Response:
    user = _get_user(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    password = users.reset_password(user, current_user)
    return one_time_page("admin_users/created.html", user=user, password=password, reset=True)
