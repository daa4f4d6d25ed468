"""CLM → Certificates: the inventory, one certificate's page, its public downloads and the
one-time, passphrase-protected private key exports (prepared by the worker)."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from app.blueprints.certificates.forms import CertificateExportForm, RevokeForm
from app.blueprints.forms import ActionForm, attach_error
from app.blueprints.pki.forms import ALGORITHM_LABELS
from app.models import Certificate, CertificateExport
from app.services import (
    alerts,
    certificate_exports,
    certificates,
    renewals,
    replacements,
    revocation,
)
from app.services.errors import NotFound, QueueUnavailable, ServiceError
from app.services.orders import PolicyRejected
from app.services.requesters import requester_for_user
from app.web.htmx import is_htmx, no_store, render_page

bp = Blueprint("certificates", __name__, url_prefix="/certificates")


def _certificate(certificate_id: str) -> Certificate:
    return certificates.get_certificate_for(certificate_id, current_user)


def _export(export_id: str) -> CertificateExport:
    return certificate_exports.get_export_for(export_id, current_user)


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return no_store(response)


@bp.get("/")
@login_required
def index() -> Response:
    filters = certificates.CertificateFilters.from_args(request.args)
    rows, next_cursor = certificates.page_of_certificates(
        current_user, filters, request.args.get("before"), current_app.config["PAGE_SIZE"])
    issuers = certificates.issuers(current_user)
    return no_store(render_page(
        "certificates/index.html", "certificates/_results.html", certificates=rows,
        seen=certificates.where_seen(row.id for row in rows), next_cursor=next_cursor,
        filters=filters, first_page=not request.args.get("before"),
        issuers=issuers, issuer_names=dict(issuers), statuses=certificates.STATUSES,
        sources=certificates.SOURCES, labels=ALGORITHM_LABELS,
        has_any=bool(rows) or certificates.has_any(current_user)))


def _detail_page(cert: Certificate, revoke_form: RevokeForm | None = None,
                 status: int = 200) -> Response:
    key_usage, extended_key_usage = certificates.usages(cert)
    return no_store(render_page(
        "certificates/detail.html", "certificates/_detail.html", status=status, cert=cert,
        labels=ALGORITHM_LABELS, issuer_names=dict(certificates.issuers(current_user)),
        may_export=certificate_exports.may_export_key(cert, current_user),
        may_revoke=revocation.may_revoke(cert, current_user),
        revoke_form=revoke_form or RevokeForm(),
        key_usage=key_usage, extended_key_usage=extended_key_usage, action_form=ActionForm(),
        alerts=alerts.alerts_for(certificate_id=cert.id, order_id=cert.order_id),
        renewal_of=cert.order.renews_certificate if cert.order else None,
        renewed_by=renewals.renewals_of(cert), open_renewal=renewals.open_renewal(cert),
        may_renew=cert.order is not None and renewals.may_renew(cert, current_user),
        needs_csr=cert.order is not None and renewals.needs_csr(cert.order),
        revoke_available=renewals.REVOKE_PREDECESSOR_AVAILABLE,
        page_path=url_for("certificates.detail", certificate_id=cert.id)))


@bp.get("/<certificate_id>")
@login_required
def detail(certificate_id: str) -> Response:
    return _detail_page(_certificate(certificate_id))


@bp.post("/<certificate_id>/revoke")
@login_required
def revoke(certificate_id: str) -> Response:
    """Revoke after a confirmation naming the certificate; the page section is re-rendered
    in place (htmx) with the new status, or with the refusal next to the form."""
    cert = revocation.certificate_for_revocation(certificate_id, current_user)
    form = RevokeForm()
    if not form.validate_on_submit():
        form.form_errors.append("The form expired; reload the page and try again.")
        return _detail_page(cert, form, 422)
    if (form.confirm.data or "").strip().casefold() != cert.common_name.casefold():
        form.confirm.errors = [f"Type the common name, {cert.common_name}, to confirm."]
        return _detail_page(cert, form, 422)
    try:
        result = revocation.revoke_certificate(cert, form.reason.data or "",
                                               actor=current_user)
    except ServiceError as exc:
        if exc.status in (403, 404):
            raise
        attach_error(form, exc)
        return _detail_page(cert, form, 422)
    if is_htmx():  # the section itself says what happened
        return _detail_page(cert)
    flash("Certificate revoked." if result.status == revocation.REVOKED else
          f"Revocation sent to {cert.provider}; the certificate stays valid until the CA "
          "confirms it.", "success")
    return redirect(url_for("certificates.detail", certificate_id=cert.id))


@bp.post("/<certificate_id>/replace")
@login_required
def request_replacement(certificate_id: str) -> Response:
    """Request a replacement: the wizard, prefilled from the certificate's names and
    subject (a new draft each time)."""
    cert = _certificate(certificate_id)
    if not ActionForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("certificates.detail", certificate_id=cert.id))
    draft = replacements.start_replacement(cert, current_user)
    return redirect(url_for("wizard.step", draft_id=draft.id, step="names"), code=303)


@bp.post("/<certificate_id>/renew")
@login_required
def renew(certificate_id: str) -> Response:
    """Renew with a platform-made key (always a new one); a CSR order goes to the CSR
    upload page, prefilled from the original, for the new CSR."""
    cert = renewals.renewable_for(certificate_id, current_user)
    if cert.order is not None and renewals.needs_csr(cert.order):
        return redirect(url_for("csr.upload", renews=cert.id), code=303)
    try:
        order, _ = renewals.renew(cert, requester_for_user(current_user), pathway="wizard",
                                  revoke_predecessor=request.form.get("revoke") == "1")
    except PolicyRejected as exc:
        flash("Renewal refused: " + " ".join(v.message for v in exc.violations), "error")
        return redirect(url_for("certificates.detail", certificate_id=cert.id), code=303)
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            raise
        flash(exc.message, "error")
        return redirect(url_for("certificates.detail", certificate_id=cert.id), code=303)
    flash(f"Renewal of {cert.common_name} submitted.", "success")
    return redirect(url_for("orders.detail", order_id=order.id), code=303)


@bp.get("/<certificate_id>/download/<fmt>")
@login_required
def download(certificate_id: str, fmt: str) -> Response:
    cert = _certificate(certificate_id)
    try:
        file = certificates.public_download(cert, fmt, actor=current_user)
    except NotFound:
        raise
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("certificates.detail", certificate_id=cert.id))
    return _attachment(file.body, file.mimetype, file.filename)


@bp.route("/<certificate_id>/export", methods=["GET", "POST"])
@login_required
def export_key(certificate_id: str) -> Response:
    cert = _certificate(certificate_id)
    form = CertificateExportForm()
    if form.validate_on_submit():
        try:
            export = certificate_exports.request_export(
                cert, form.format.data, form.passphrase.data, actor=current_user)
        except QueueUnavailable as exc:
            flash(exc.message, "error")
            return redirect(url_for("certificates.export_status", export_id=exc.resource_id))
        except ServiceError as exc:
            attach_error(form, exc, "passphrase")
        else:
            return redirect(url_for("certificates.export_status", export_id=export.id))
    status = 422 if request.method == "POST" else 200
    return no_store(make_response(render_template(
        "certificates/export.html", form=form, cert=cert,
        formats=certificate_exports.EXPORT_FORMATS,
        min_length=certificate_exports.MIN_PASSPHRASE_LENGTH,
        no_key_message=certificate_exports.NO_KEY_MESSAGE), status))


@bp.get("/exports/<export_id>")
@login_required
def export_status(export_id: str) -> Response:
    export = _export(export_id)
    return no_store(render_page(
        "certificates/export_status.html", "certificates/_export_status.html", export=export,
        stalled=certificate_exports.stalled_reason(export), action_form=ActionForm(),
        downloading=request.args.get("downloading") == "1"))


@bp.post("/exports/<export_id>/download")
@login_required
def export_download(export_id: str) -> Response:
    export = _export(export_id)
    try:
        data, mimetype, filename = certificate_exports.take_export(export, actor=current_user)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("certificates.export_status", export_id=export_id))
    return _attachment(data, mimetype, filename)
