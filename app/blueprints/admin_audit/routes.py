"""Admin → Audit log: newest first, keyset-paginated by id, filters in the URL, and a
streamed CSV / JSON export of exactly the filtered view."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request, stream_with_context
from flask_login import current_user

from app.domain.roles import Permission
from app.models.base import utcnow
from app.services import audit_log
from app.web.access import require
from app.web.htmx import no_store, render_page
from app.web.input_guard import int_arg

bp = Blueprint("admin_audit", __name__, url_prefix="/admin/audit")

# Where a resource's link goes: (endpoint, URL argument) by resource type.
RESOURCE_LINKS = {
    "order": ("orders.detail", "order_id"),
    "certificate": ("certificates.detail", "certificate_id"),
    "ca": ("pki.detail", "ca_id"),
    "policy": ("admin_policies.edit", "policy_id"),
    "courier": ("couriers.edit", "courier_id"),
    "user": ("admin_users.edit", "user_id"),
    "domain": ("admin_domains.index", None),
    "acme_server": ("admin_acme.edit", "server_id"),
}
EXPORTS = {"csv": ("text/csv; charset=utf-8", audit_log.export_csv),
           "json": ("application/json", audit_log.export_json)}


@bp.get("/")
@require(Permission.VIEW_AUDIT)
def index() -> Response:
    filters = audit_log.AuditFilters.from_args(request.args)
    before = int_arg("before")
    events, next_before = audit_log.page_of_events(filters, before,
                                                   current_app.config["PAGE_SIZE"])
    return no_store(render_page(
        "admin_audit/index.html", "admin_audit/_results.html", events=events,
        next_before=next_before, first_page=before is None, filters=filters,
        resources=audit_log.resolve_resources(events), links=RESOURCE_LINKS,
        actions=audit_log.action_choices(), resource_types=audit_log.resource_type_choices(),
        outcomes=audit_log.OUTCOMES))


@bp.get("/export.<any(csv, json):fmt>")
@require(Permission.VIEW_AUDIT)
def export(fmt: str) -> Response:
    """The filtered view (every page of it), streamed in batches."""
    filters = audit_log.AuditFilters.from_args(request.args)
    audit_log.record_export(fmt, filters, actor=current_user)
    mimetype, producer = EXPORTS[fmt]
    batch = current_app.config.get("AUDIT_EXPORT_BATCH_SIZE", 1000)
    stamp = utcnow().strftime("%Y%m%d-%H%M%S")
    response = Response(stream_with_context(producer(filters, batch)), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.{fmt}"'
    return no_store(response)
