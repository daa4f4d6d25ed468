"""Log in, log out, change password."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from app.blueprints.auth.forms import ChangePasswordForm, LoginForm
from app.blueprints.forms import attach_error
from app.services import audit, users
from app.services.errors import ServiceError

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(url_for("clm.home"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("auth/login.html", form=form), status
    try:
        user = users.authenticate(form.email.data, form.password.data, request.remote_addr)
    except ServiceError as exc:
        form.form_errors.append(exc.message)
        return render_template("auth/login.html", form=form), exc.status
    login_user(user)
    return redirect(_safe_next(request.args.get("next")))


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an absolute URL in ?next= would be an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    return url_for("clm.home")


@bp.post("/logout")
@login_required
def logout() -> Response:
    audit.record("auth.logout", resource_type="user", resource_id=current_user.id)
    audit.commit()
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response | str | tuple[str, int]:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            users.change_password(current_user, form.current_password.data,
                                  form.new_password.data)
        except ServiceError as exc:
            attach_error(form, exc, "new_password")
        else:
            flash("Your password has been changed.", "success")
            return redirect(url_for("clm.home"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status
