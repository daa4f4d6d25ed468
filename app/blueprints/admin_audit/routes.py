"""Admin → Audit log: newest first, keyset-paginated by id."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from app.domain.roles import Permission
from app.services import audit
from app.web.access import require

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
@require(Permission.VIEW_AUDIT)
def index() -> str:
    before = request.args.get("before", type=int)
    events, next_before = audit.page_of_events(current_app.config["PAGE_SIZE"], before)
    return render_template("admin_audit/index.html", events=events,
                           next_before=next_before, first_page=before is None)
