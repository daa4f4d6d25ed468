"""Request New Certificate: four steps, each a partial of one page (works without JS)."""
from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.blueprints.wizard.view import StepView, values_from_form
from app.services import wizard
from app.services.domains import has_active_domain
from app.services.errors import Conflict
from app.services.home import example_domain
from app.services.issuers import issuer_choices, provider_choices
from app.services.orders import PolicyRejected
from app.web.htmx import is_htmx, render_page

bp = Blueprint("wizard", __name__, url_prefix="/request")


def _draft(draft_id: str):
    return wizard.get_draft(draft_id, current_user)


def _step_url(draft, step: str) -> str:
    return url_for("wizard.step", draft_id=draft.id, step=step)


def _render(view: StepView, draft, status: int = 200, push: bool = False) -> Response:
    no_domains = not has_active_domain()
    response = render_page("wizard/wizard.html", f"wizard/_{view.step}.html", status,
                           view=view, draft=draft, no_active_domain=no_domains,
                           example_domain=example_domain(current_user))
    if push and is_htmx():
        response.headers["HX-Push-Url"] = _step_url(draft, view.step)
    response.headers["Cache-Control"] = "no-store"
    return response


def _view_for_get(draft, step: str) -> StepView:
    index = wizard.STEPS.index(step)
    judged_upto = step if step == "review" else wizard.STEPS[max(index - 1, 0)]
    assessment = wizard.assess_draft(draft, current_user, judged_upto) if index else None
    offered = step in ("crypto", "review")
    return StepView(step, dict(draft.data), assessment,
                    issuer_choices() if offered else [], provider_choices() if offered else [])


def _redirect(draft, step: str) -> Response:
    """Move to another step: the partial plus a pushed URL for htmx, a 303 otherwise."""
    if is_htmx():
        return _render(_view_for_get(draft, step), draft, push=True)
    return redirect(_step_url(draft, step), code=303)


@bp.get("/")
@login_required
def start() -> Response:
    draft = wizard.start_or_resume(current_user)
    return redirect(_step_url(draft, wizard.STEPS[min(draft.step, 3)]))


@bp.post("/new")
@login_required
def start_over() -> Response:
    draft = wizard.new_draft(current_user)
    return redirect(_step_url(draft, "names"), code=303)


@bp.get("/<draft_id>/<any(names, subject, crypto, review):step>")
@login_required
def step(draft_id: str, step: str) -> Response:
    draft = _draft(draft_id)
    if draft.is_submitted:
        return redirect(url_for("orders.detail", order_id=draft.order_id))
    if wizard.STEPS.index(step) > draft.step:
        return redirect(_step_url(draft, wizard.STEPS[draft.step]))
    return _render(_view_for_get(draft, step), draft)


@bp.post("/<draft_id>/<any(names, subject, crypto, review):step>")
@login_required
def post_step(draft_id: str, step: str) -> Response:
    draft = _draft(draft_id)
    if draft.is_submitted:
        flash("This request was already submitted.", "info")
        return redirect(url_for("orders.detail", order_id=draft.order_id), code=303)
    nav = request.form.get("nav", "next")
    values = values_from_form(step, request.form)
    index = wizard.STEPS.index(step)
    if nav == "back" and index > 0:
        wizard.go_back(draft, step, values)
        return _redirect(draft, wizard.STEPS[index - 1])
    if nav in ("add_san", "refresh") or nav.startswith("remove_san:"):
        return _edit_in_place(draft, step, values, nav)
    if step == "review":
        return _submit(draft)
    assessment = wizard.advance(draft, step, values, current_user)
    if assessment.blocked:
        crypto = step == "crypto"
        view = StepView(step, values, assessment, issuer_choices() if crypto else [],
                        provider_choices() if crypto else [])
        return _render(view, draft, status=422)
    return _redirect(draft, wizard.STEPS[index + 1])


def _edit_in_place(draft, step: str, values: dict, nav: str) -> Response:
    if nav == "add_san":
        values["sans"] = [*values.get("sans", []), ""]
    elif nav.startswith("remove_san:"):
        position = nav.split(":", 1)[1]
        rows = values.get("sans", [])
        if position.isdigit() and int(position) < len(rows):
            rows.pop(int(position))
    wizard.go_back(draft, step, values)
    view = _view_for_get(draft, step)
    view.values.update(values)
    return _render(view, draft)


def _submit(draft) -> Response:
    try:
        order = wizard.submit(draft, current_user)
    except PolicyRejected:
        return _render(_view_for_get(draft, "review"), draft, status=422)
    except Conflict as exc:
        flash(exc.message, "info")
        return redirect(url_for("orders.detail", order_id=draft.order_id), code=303)
    target = url_for("orders.detail", order_id=order.id)
    if is_htmx():
        return Response(status=200, headers={"HX-Redirect": target})
    return redirect(target, code=303)
