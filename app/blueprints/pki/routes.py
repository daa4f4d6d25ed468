"""Admin → Local PKI: roots, intermediates, downloads and root key export."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.blueprints.forms import ActionForm, attach_error, choices
from app.blueprints.pki.forms import (
    ALGORITHM_LABELS,
    IntermediateForm,
    KeyExportForm,
    RevokeCAForm,
    RootForm,
)
from app.domain.roles import Permission
from app.models import CertificateAuthority
from app.models.pki import CA_KIND_INTERMEDIATE, CA_KIND_ROOT
from app.services import pki, revocation
from app.services.errors import QueueUnavailable, ServiceError
from app.web.access import require
from app.web.htmx import no_store, render_page

bp = Blueprint("pki", __name__, url_prefix="/admin/pki")


def _get_ca(ca_id: str) -> CertificateAuthority:
    return pki.get_ca_or_404(ca_id)


@bp.get("/")
@require(Permission.MANAGE_PKI)
def index() -> Response:
    roots, intermediates = pki.list_cas(CA_KIND_ROOT), pki.list_cas(CA_KIND_INTERMEDIATE)
    usage = pki.usage_counts(roots + intermediates)
    return no_store(render_page("pki/index.html", "pki/_tables.html", roots=roots,
                                intermediates=intermediates, usage=usage,
                                labels=ALGORITHM_LABELS))


def _create(form: RootForm, kind: str) -> Response:
    if form.validate_on_submit():
        try:
            if kind == CA_KIND_ROOT:
                ca = pki.request_root(form.parameters(), actor=current_user)
            else:
                ca = pki.request_intermediate(form.parameters(), form.parent_id.data,
                                              actor=current_user)
        except QueueUnavailable as exc:
            flash(exc.message, "error")
            return redirect(url_for("pki.detail", ca_id=exc.resource_id))
        except ServiceError as exc:
            attach_error(form, exc)
        else:
            flash(f"Generating {kind} '{ca.common_name}'. This page updates when it is ready.",
                  "info")
            return redirect(url_for("pki.detail", ca_id=ca.id))
    status = 422 if request.method == "POST" else 200
    return make_response(render_template("pki/new.html", form=form, kind=kind), status)


@bp.route("/roots/new", methods=["GET", "POST"])
@require(Permission.MANAGE_PKI)
def new_root() -> Response:
    return _create(RootForm(), CA_KIND_ROOT)


@bp.route("/intermediates/new", methods=["GET", "POST"])
@require(Permission.MANAGE_PKI)
def new_intermediate() -> Response:
    form = IntermediateForm()
    form.parent_id.choices = choices((str(r.id), r.common_name) for r in pki.signing_roots())
    form.permitted_dns.choices = choices((name, name) for name in pki.constrainable_domains())
    if request.method == "GET" and request.args.get("root"):
        form.parent_id.data = request.args["root"]
    return _create(form, CA_KIND_INTERMEDIATE)


def _detail_page(ca: CertificateAuthority, form: RevokeCAForm | None = None,
                 status: int = 200) -> Response:
    return no_store(render_page("pki/detail.html", "pki/_detail.html", status=status, ca=ca,
                                usage=pki.usage_count(ca), labels=ALGORITHM_LABELS,
                                revoke_form=form or RevokeCAForm()))


@bp.get("/<ca_id>")
@require(Permission.MANAGE_PKI)
def detail(ca_id: str) -> Response:
    return _detail_page(_get_ca(ca_id))


@bp.post("/<ca_id>/revoke")
@require(Permission.MANAGE_PKI)
def revoke(ca_id: str) -> Response:
    ca = _get_ca(ca_id)
    form = RevokeCAForm()
    if not form.validate_on_submit():
        form.form_errors.append("The form expired; reload the page and try again.")
        return _detail_page(ca, form, 422)
    if (form.confirm.data or "").strip().casefold() != ca.common_name.casefold():
        form.confirm.errors = [f"Type the CA name, {ca.common_name}, to confirm."]
        return _detail_page(ca, form, 422)
    try:
        revocation.revoke_ca(ca, form.reason.data or "", actor=current_user)
    except ServiceError as exc:
        attach_error(form, exc)
        return _detail_page(ca, form, 422)
    return _detail_page(ca)


@bp.get("/<ca_id>/<any('certificate', 'chain'):what>.pem")
@require(Permission.MANAGE_PKI)
def download(ca_id: str, what: str) -> Response:
    ca = _get_ca(ca_id)
    if not ca.certificate_pem:
        abort(404)
    body = ca.certificate_pem if what == "certificate" else pki.chain_pem(ca)
    response = make_response(body)
    response.headers["Content-Type"] = "application/x-pem-file"
    filename = f"{ca.common_name}-{what}.pem".replace(" ", "_").replace('"', "")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/<ca_id>/export", methods=["GET", "POST"])
@require(Permission.MANAGE_PKI)
def export_key(ca_id: str) -> Response:
    ca = _get_ca(ca_id)
    form = KeyExportForm()
    if form.validate_on_submit():
        try:
            export = pki.request_key_export(ca, form.passphrase.data,
                                            remove_key=form.remove_key.data, actor=current_user)
        except QueueUnavailable as exc:
            flash(exc.message, "error")
            return redirect(url_for("pki.detail", ca_id=ca.id))
        except ServiceError as exc:
            attach_error(form, exc, "passphrase")
        else:
            return redirect(url_for("pki.export_status", export_id=export.id))
    status = 422 if request.method == "POST" else 200
    return make_response(render_template("pki/export.html", form=form, ca=ca), status)


@bp.get("/exports/<export_id>")
@require(Permission.MANAGE_PKI)
def export_status(export_id: str) -> Response:
    export = _get_export(export_id)
    return no_store(render_page("pki/export_status.html", "pki/_export_status.html",
                                export=export, action_form=ActionForm(),
                                downloading=request.args.get("downloading") == "1"))


@bp.post("/exports/<export_id>/download")
@require(Permission.MANAGE_PKI)
def export_download(export_id: str) -> Response:
    export = _get_export(export_id)
    try:
        data = pki.take_key_export(export, actor=current_user)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("pki.export_status", export_id=export_id))
    response = make_response(data)
    response.headers["Content-Type"] = "application/x-pem-file"
    response.headers["Content-Disposition"] = \
        f'attachment; filename="{export.ca.common_name.replace(" ", "_")}-key.pem"'
    return no_store(response)


def _get_export(export_id: str):
    return pki.get_key_export(export_id, current_user)
