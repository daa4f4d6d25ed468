"""Request New Certificate → Upload a CSR: paste or upload, check, submit (works without JS).

GET shows the input form; POST ``nav=check`` reads the CSR (a chosen file, else the pasted
text, else the hidden field of the result form) and shows what it asks for, judged by the
wizard's rules, with the certificate options; POST ``nav=submit`` re-reads and re-judges
the CSR from the form (nothing of an earlier check is trusted) and creates the order."""
from __future__ import annotations

from flask import Blueprint, Response, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from app.blueprints.csr import flow
from app.blueprints.csr.view import CsrView
from app.domain.policy import Violation
from app.services import renewals
from app.services.orders import PolicyRejected
from app.web.htmx import is_htmx, no_store, render_page

bp = Blueprint("csr", __name__, url_prefix="/request")


def _render(view: CsrView, status: int = 200) -> Response:
    return no_store(render_page("csr/upload.html", "csr/_panel.html", status, view=view,
                                revoke_available=renewals.REVOKE_PREDECESSOR_AVAILABLE))


@bp.get("/csr")
@login_required
def upload() -> Response:
    """``?renews=<certificate id>``: the renewal of a CSR order (the original's options
    are the first offered; the new CSR is judged under ``certificate.renew``)."""
    return _render(CsrView.blank(renewal=flow.renewal_of(request.args.get("renews"),
                                                         current_user)))


@bp.post("/csr")
@login_required
def post_upload() -> Response:
    renewal = flow.renewal_of(request.form.get("renews"), current_user)
    source = flow.read_input(request.form, request.files)
    parsed, problems = flow.parse(source)
    if parsed is None:
        status = 413 if any(p.code == "csr.too_large" for p in problems) else 422
        return _render(CsrView.blank(problems, echo=source.echo, renewal=renewal), status)
    options = flow.options_from_form(request.form)
    submitting = request.form.get("nav") == "submit" and options is not None
    if options is None and renewal is not None and renewal.order is not None:
        options = renewals.csr_prefill(renewal.order)  # first look: the original's options
    elif options is None:  # first look: judge the options the form will offer
        _, first = flow.check(parsed, None, current_user)
        options = CsrView.checked(parsed, None, first).default_options()
    csr_request, assessment = flow.check(parsed, options, current_user, renewal)
    if submitting and not assessment.blocked:
        try:
            order = flow.submit_renewal(parsed, options, current_user, renewal,
                                        request.form.get("revoke") == "1") \
                if renewal is not None else flow.submit(parsed, csr_request, current_user)
        except PolicyRejected as exc:  # a rule changed since the check above
            _, assessment = flow.check(parsed, options, current_user, renewal)
            view = CsrView.checked(parsed, options, assessment, renewal)
            if not assessment.blocked:
                view.input_errors = list(exc.violations)
            return _render(view, 422)
        target = url_for("orders.detail", order_id=order.id)
        if is_htmx():
            return Response(status=200, headers={"HX-Redirect": target})
        return redirect(target, code=303)
    flow.record_alerts(parsed, csr_request, assessment, current_user)
    return _render(CsrView.checked(parsed, options, assessment, renewal),
                   422 if assessment.blocked else 200)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> Response:
    """A body over MAX_CONTENT_LENGTH (or pasted text over MAX_FORM_MEMORY_SIZE) is refused
    before anything reads it; say what a CSR may be rather than show the generic 413."""
    message = ("The upload is far too large and was not read. A CSR is at most 64 KiB: "
               "paste or choose the CSR file itself.")
    return _render(CsrView.blank([Violation(code="csr.too_large", field="csr",
                                            message=message)]), 413)
