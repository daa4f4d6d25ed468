"""Admin → Audit log: newest first, keyset-paginated by id."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import select

from app.domain.roles import Permission
from app.extensions import db
from app.models import AuditEvent
from app.web.access import require
from app.web.input_guard import int_arg

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
@require(Permission.VIEW_AUDIT)
def index() -> str:
    size = current_app.config["PAGE_SIZE"]
    before = int_arg("before")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(size + 1)
    if before:
        query = query.where(AuditEvent.id < before)
    events = list(db.session.scalars(query))
    next_before = events[size - 1].id if len(events) > size else None
    return render_template("admin_audit/index.html", events=events[:size],
                           next_before=next_before, first_page=before is None)
