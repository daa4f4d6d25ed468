"""CLM → Discovery: import certificates (upload or paste) and scan TLS endpoints; a scan's
page shows its results as the worker records them. Deployment admins and super admins."""
from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from app.blueprints.discovery.forms import ImportForm, ScanForm
from app.blueprints.forms import attach_error
from app.domain.discovery import MAX_TARGETS
from app.domain.roles import Permission
from app.services import discovery_import, discovery_scan
from app.services.errors import QueueUnavailable, ServiceError, ValidationFailed
from app.web.access import require
from app.web.htmx import is_htmx, no_store, render_page

bp = Blueprint("discovery", __name__, url_prefix="/discovery")


def _index(import_form: ImportForm | None = None, scan_form: ScanForm | None = None,
           results: list | None = None, status: int = 200) -> Response:
    """The page; the form that was not posted starts blank (with its defaults), not from
    the other form's submitted data."""
    return no_store(render_page(
        "discovery/index.html", None, status,
        import_form=import_form or ImportForm(formdata=None),
        scan_form=scan_form or ScanForm(formdata=None), import_results=results,
        scans=discovery_scan.recent_scans(), targets=discovery_scan.saved_targets(),
        max_targets=MAX_TARGETS))


@bp.get("/")
@require(Permission.MANAGE_DEPLOYMENT)
def index() -> Response:
    return _index()


def _upload_bytes(form: ImportForm) -> bytes:
    upload = request.files.get(form.file.name)
    if upload is not None and upload.filename:
        return upload.read(discovery_import.MAX_IMPORT_BYTES + 1)
    return (form.pem.data or "").encode()


@bp.post("/import")
@require(Permission.MANAGE_DEPLOYMENT)
def import_certificates() -> Response:
    form = ImportForm()
    if not form.validate_on_submit():
        return _index(import_form=form, status=422)
    data = _upload_bytes(form)
    if not data.strip():
        form.file.errors = ["Choose a certificate file or paste PEM certificates."]
        return _index(import_form=form, status=422)
    try:
        results = discovery_import.import_certificates(data, actor=current_user)
    except ValidationFailed as exc:
        attach_error(form, exc, "file")
        return _index(import_form=form, status=413 if exc.code == "discovery.too_large"
                      else 422)
    return _index(results=results)


@bp.post("/scans")
@require(Permission.MANAGE_DEPLOYMENT)
def start_scan() -> Response:
    form = ScanForm()
    if form.validate_on_submit():
        try:
            scan = discovery_scan.start_scan(form.targets.data or "", actor=current_user,
                                             save=bool(form.save.data))
        except QueueUnavailable as exc:
            return redirect(url_for("discovery.scan", scan_id=exc.resource_id), code=303)
        except ServiceError as exc:
            attach_error(form, exc, "targets")
        else:
            target = url_for("discovery.scan", scan_id=scan.id)
            if is_htmx():
                return Response(status=200, headers={"HX-Redirect": target})
            return redirect(target, code=303)
    return _index(scan_form=form, status=422)


@bp.get("/scans/<scan_id>")
@require(Permission.MANAGE_DEPLOYMENT)
def scan(scan_id: str) -> Response:
    found = discovery_scan.get_scan(scan_id)
    done, total = discovery_scan.progress(found)
    return no_store(render_page("discovery/scan.html", "discovery/_scan_results.html",
                                scan=found, done=done, total=total,
                                stalled=discovery_scan.stalled_reason(found)))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> Response:
    form = ImportForm(formdata=None)
    form.file.errors = ["The upload is too large and was not read: at most 1 MiB per "
                        "upload; split the bundle into several files."]
    return _index(import_form=form, status=413)
