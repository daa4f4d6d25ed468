"""Orders: the list and one order's page."""
from __future__ import annotations

from flask import Blueprint, Response, abort
from flask_login import current_user, login_required

from app.domain.request import CertificateRequest
from app.services import orders
from app.services.errors import NotFound
from app.web.htmx import no_store, render_page

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/<order_id>")
@login_required
def detail(order_id: str) -> Response:
    try:
        order = orders.get_order_for(order_id, current_user)
    except NotFound:
        abort(404)
    request = CertificateRequest.from_dict(order.request)
    return no_store(render_page("orders/detail.html", "orders/_detail.html", order=order,
                                req=request))
