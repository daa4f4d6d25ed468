"""CLM → Bridges: the agents that deploy certificates to on-premises servers
(deployment admins and super admins)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange

from app.blueprints.forms import ActionForm, WholeNumberField, attach_error
from app.domain.roles import Permission
from app.models import Bridge
from app.services import bridges
from app.services.errors import ServiceError
from app.web.access import require
from app.web.htmx import one_time_page

bp = Blueprint("bridges", __name__, url_prefix="/bridges")


class BridgeForm(FlaskForm):
    name = StringField("Name", validators=[
        DataRequired(message="Give the bridge a name."),
        Length(max=100, message="Name must be 1 to 100 characters.")])
    public_key = TextAreaField("Public key", render_kw={
        "rows": 5, "spellcheck": "false",
        "placeholder": "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----"})
    poll_interval = WholeNumberField("Poll interval (seconds)", default=30, validators=[
        NumberRange(bridges.MIN_POLL_SECONDS, bridges.MAX_POLL_SECONDS,
                    message=f"The poll interval must be {bridges.MIN_POLL_SECONDS} to "
                            f"{bridges.MAX_POLL_SECONDS} seconds.")])


def _secret_page(bridge: Bridge, secret: str, rotated: bool = False) -> Response:
    return one_time_page("bridges/secret.html", bridge=bridge, secret=secret,
                         rotated=rotated)


@bp.get("/")
@require(Permission.MANAGE_DEPLOYMENT)
def index() -> str:
    return render_template("bridges/index.html", rows=bridges.list_bridges(),
                           status_of=bridges.status_of, action_form=ActionForm())


@bp.route("/new", methods=["GET", "POST"])
@require(Permission.MANAGE_DEPLOYMENT)
def create() -> Response | tuple[str, int]:
    form = BridgeForm()
    if form.validate_on_submit():
        try:
            bridge, secret = bridges.create_bridge(form.name.data, form.public_key.data,
                                                   poll_interval=form.poll_interval.data,
                                                   actor=current_user)
        except ServiceError as exc:
            attach_error(form, exc, "name")
        else:
            return _secret_page(bridge, secret)
    status = 422 if request.method == "POST" else 200
    return render_template("bridges/new.html", form=form), status


@bp.post("/<bridge_id>/rotate-secret")
@require(Permission.MANAGE_DEPLOYMENT)
def rotate_secret(bridge_id: str) -> Response:
    bridge = bridges.get_bridge(bridge_id)
    return _secret_page(bridge, bridges.rotate_secret(bridge, actor=current_user),
                        rotated=True)


@bp.post("/<bridge_id>/enabled")
@require(Permission.MANAGE_DEPLOYMENT)
def set_enabled(bridge_id: str) -> Response:
    bridge = bridges.get_bridge(bridge_id)
    enabled = request.form.get("enabled") == "1"
    bridges.set_enabled(bridge, enabled, actor=current_user)
    flash(f"{'Enabled' if enabled else 'Disabled'} bridge '{bridge.name}'.", "success")
    return redirect(url_for("bridges.index"))
