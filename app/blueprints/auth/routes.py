"""Log in, log out, change password, and Account → Sessions."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.blueprints.auth.forms import ChangePasswordForm, LoginForm
from app.blueprints.forms import ActionForm, attach_error
from app.services import audit, sessions, users
from app.services.errors import ServiceError
from app.services.login_throttle import LoginThrottled
from app.web.sessions import current_session_id, log_in, log_out

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int]:
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
        response = make_response(render_template("auth/login.html", form=form), exc.status)
        if isinstance(exc, LoginThrottled):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    log_in(user)
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
    log_out()
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
            # Every session of this account ended with the change; this browser goes on
            # in a new one.
            log_in(current_user._get_current_object())
            flash("Your password has been changed. Every other session of your account "
                  "has been signed out.", "success")
            return redirect(url_for("clm.home"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/change_password.html", form=form), status


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_required
def account_notifications() -> Response | str:
    """Expiry e-mails on or off (owners get them unless they turn them off)."""
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        on = request.form.get("email_notifications") == "1"
        users.set_email_notifications(current_user, on)
        flash("Expiry e-mails are " + ("on." if on else "off."), "success")
        return redirect(url_for("auth.account_notifications"))
    return render_template("auth/notifications.html", form=form)


@bp.get("/account/sessions")
@login_required
def account_sessions() -> str:
    return render_template("auth/sessions.html", rows=sessions.live_sessions(current_user),
                           current_id=current_session_id(), limits=sessions.limits(),
                           expires_at=sessions.expires_at, form=ActionForm())


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    ending_this_one = session_id == current_session_id()
    sessions.end_session_of(current_user, session_id)
    audit.record("auth.session_end", resource_type="user", resource_id=current_user.id,
                 details={"session": session_id, "current": ending_this_one})
    audit.commit()
    if ending_this_one:
        log_out(sessions.ENDED_BY_USER)
        flash("This session has ended. You are logged out.", "info")
        return redirect(url_for("auth.login"))
    flash("The session has ended; that browser is signed out.", "success")
    return redirect(url_for("auth.account_sessions"))
