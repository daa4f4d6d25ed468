"""Certificates → Alerts: admins see all, users their own; acknowledge."""
from __future__ import annotations

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

bp = Blueprint("alerts", __name__, url_prefix="/certificates/alerts")


@bp.get("/")
@login_required
def index() -> str:
    show_all = request.args.get("show") == "all"
    rows, next_before = alerts.visible_alerts(
        current_user, include_acknowledged=show_all, limit=current_app.config["PAGE_SIZE"],
        before=request.args.get("before", type=int))
    return render_template("alerts/index.html", rows=rows, next_before=next_before,
                           show_all=show_all)


@bp.post("/<int:alert_id>/acknowledge")
@login_required
def acknowledge(alert_id: int) -> Response:
    alerts.acknowledge(alert_id, current_user)
    return redirect(url_for("alerts.index"))
