"""Orders: the list with its summary cards, one order's live page, resubmission."""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.domain.labels import REQUESTER_KIND_LABELS
from app.domain.request import CertificateRequest
from app.models import Order
from app.services import alerts, order_queries, orders, status_fragments, wizard
from app.services.requesters import requester_for_user
from app.web.htmx import is_htmx, no_store, render_page
from app.web.sessions import current_session_id

bp = Blueprint("orders", __name__, url_prefix="/orders")


def _order(order_id: str) -> Order:
    return orders.get_order_for(order_id, current_user)


@bp.get("/")
@login_required
def index() -> Response:
    filters = order_queries.OrderFilters.from_args(request.args)
    cards_only = request.args.get("part") == "cards"
    # An htmx request renders one partial: query only what it shows (the cards poll).
    rows, next_cursor = ([], None) if cards_only and is_htmx() else \
        order_queries.page_of_orders(current_user, filters, request.args.get("before"),
                                     current_app.config["PAGE_SIZE"])
    counts = {} if is_htmx() and not cards_only else \
        order_queries.status_counts(current_user, filters)
    partial = "orders/_cards.html" if cards_only else "orders/_results.html"
    return no_store(render_page(
        "orders/index.html", partial, orders=rows, next_cursor=next_cursor, filters=filters,
        counts=counts,
        first_page=not request.args.get("before"), pathways=order_queries.PATHWAYS,
        types=order_queries.ORDER_TYPES, kinds=REQUESTER_KIND_LABELS))


@bp.get("/<order_id>")
@login_required
def detail(order_id: str) -> Response:
    return _detail_page(_order(order_id))


def _detail_page(order: Order) -> Response:
    return no_store(render_page("orders/detail.html", "orders/_detail.html", order=order,
                                req=CertificateRequest.from_dict(order.request),
                                alerts=alerts.alerts_for(order_id=order.id),
                                page_path=url_for("orders.detail", order_id=order.id)))


@bp.get("/<order_id>/status")
@login_required
def status(order_id: str) -> Response:
    """The polled fragment: reads the database only; carries its own poll trigger until
    the order is terminal, so polling stops by itself. Same rendering as the page. A
    finished order's fragment carries an ETag of its body and answers a matching
    If-None-Match with 304 (kept private: it is one user's view). An open order's htmx
    fragment is kept for this session, and repeat polls are answered by
    ``web/status_fast_path.py`` until the order changes."""
    # Read before rendering, so the fragment kept for the fast path is never older than
    # its fingerprint (services/status_fragments.py).
    fingerprint = status_fragments.current_fingerprint(order_id) \
        if is_htmx() and current_app.config["STATUS_FAST_PATH"] else None
    order = _order(order_id)
    response = _detail_page(order)
    if order.is_terminal:
        response.headers["Cache-Control"] = "private, no-cache"
        response.add_etag()
        response.make_conditional(request)
    elif fingerprint is not None and (session_id := current_session_id()) is not None:
        status_fragments.keep(current_app.config["REDIS_URL"], order.id, session_id,
                              fingerprint, response.get_data())
    return response


@bp.post("/<order_id>/resubmit")
@login_required
def resubmit(order_id: str) -> Response:
    """A new wizard draft prefilled with this order's request, opened at its review step
    (it passes the same checks again on submit)."""
    order = _order(order_id)
    if order.pathway not in ("wizard", "csr_upload"):
        flash("Only orders made in this interface can be resubmitted here; couriers and "
              "ACME clients retry through their own protocol.", "error")
        return redirect(url_for("orders.detail", order_id=order.id), code=303)
    request_ = CertificateRequest.from_dict(order.request).replace(
        provider_id=str(order.provider_id))
    if order.csr_pem:
        # The requester holds the key: resubmit the same CSR (checked again), never a
        # wizard draft, which would make the platform generate a different key.
        try:
            new_order, _ = orders.submit_order(
                request_, requester_for_user(current_user), pathway=order.pathway,
                request_key=f"resubmit:{order.id}:{uuid.uuid4()}", csr_pem=order.csr_pem)
        except orders.PolicyRejected as exc:
            flash("Resubmission refused: " + " ".join(v.message for v in exc.violations),
                  "error")
            return redirect(url_for("orders.detail", order_id=order.id), code=303)
        return redirect(url_for("orders.detail", order_id=new_order.id), code=303)
    draft = wizard.draft_from_request(current_user, request_)
    return redirect(url_for("wizard.step", draft_id=draft.id, step="review"), code=303)
