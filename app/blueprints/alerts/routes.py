"""Certificates → Alerts: admins see all, users their own; acknowledge."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.services import alerts
from app.web.input_guard import int_arg

bp = Blueprint("alerts", __name__, url_prefix="/certificates/alerts")


@bp.get("/")
@login_required
def index() -> str:
    show_all = request.args.get("show") == "all"
    rows, next_before = alerts.visible_alerts(
        current_user, include_acknowledged=show_all, limit=current_app.config["PAGE_SIZE"],
        before=int_arg("before"))
    return render_template("alerts/index.html", rows=rows, next_before=next_before,
                           show_all=show_all)


@bp.post("/<int:alert_id>/acknowledge")
@login_required
def acknowledge(alert_id: int) -> Response:
    alerts.acknowledge(alert_id, current_user)
    return redirect(_local_path(request.form.get("next")) or url_for("alerts.index"), code=303)


def _local_path(target: str | None) -> str | None:
    """A path on this site (the page the button was on), never another origin."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return None if parts.scheme or parts.netloc else target
