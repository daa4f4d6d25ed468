"""The couriers' JSON API (SPEC 8) under ``/api/v1/courier/`` and its OpenAPI document.

Bearer tokens instead of sessions and CSRF tokens; every authenticated call counts against
the courier's per-minute limit, every auth attempt against its address's (rate_limits)."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType

from app.blueprints.api import errors, openapi, presenters
from app.blueprints.api.schemas import (
    AUTH,
    IDEMPOTENCY_KEY_RE,
    MAX_BATCH,
    REVOKE,
    check_batch_body,
    check_body,
    check_certificate_body,
    check_discovery_body,
    check_renewal_body,
)
from app.models import Courier
from app.services import courier_api, courier_keys, couriers, revocation
from app.services import discovery_import as discovery_import_service
from app.services.couriers import CourierAuthFailed
from app.services.errors import ServiceError
from app.web.rate_limits import courier_auth_limit, limiter, per_courier_limit

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(bp)


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    """The parsed body: 415 unless it is JSON, 413 over MAX_CONTENT_LENGTH (raised by
    Werkzeug on reading), 400 when it does not parse."""
    if not request.is_json:
        raise UnsupportedMediaType()
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The body is not valid JSON.") from exc


def _bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise CourierAuthFailed("Send 'Authorization: Bearer <token>'; get a token from "
                                "POST /api/v1/courier/auth.", code="auth.missing_token")
    return token.strip()


def courier_required(view: Callable[..., Any], limit: Any = per_courier_limit
                     ) -> Callable[..., Any]:
    """Authenticate the bearer token, then count the call against the courier's limit."""
    limited = limit(view)

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.courier = couriers.courier_for_token(_bearer_token())
        return limited(*args, **kwargs)

    return wrapped


def _batch_body() -> Any:
    """The batch's parsed body, read once (the rate limit's cost needs it before the
    view runs); the view gets the same 400/413/415 as any other."""
    if "batch_body" not in g:
        try:
            g.batch_body = json_body()
        except HTTPException as exc:
            g.batch_body = exc
    if isinstance(g.batch_body, HTTPException):
        raise g.batch_body
    return g.batch_body


def _batch_cost() -> int:
    """A batch counts as many calls as it holds requests; one that will be refused whole
    (unreadable, empty, over MAX_BATCH) counts as one call."""
    try:
        body = _batch_body()
    except HTTPException:
        return 1
    items = body.get("requests") if isinstance(body, dict) else None
    return len(items) if isinstance(items, list) and 1 <= len(items) <= MAX_BATCH else 1


#: The courier's one per-minute budget (same scope, key and setting), charged per request.
per_batch_item_limit = dataclasses.replace(per_courier_limit, cost=_batch_cost,
                                           limiter=limiter)


def batch_courier_required(view: Callable[..., Any]) -> Callable[..., Any]:
    return courier_required(view, per_batch_item_limit)


def _current() -> Courier:
    return g.courier


@bp.post("/courier/auth")
@courier_auth_limit  # per client address, before the body is read or a secret hashed
def auth() -> Response:
    body = check_body(json_body(), AUTH)
    token, expires_in = couriers.authenticate(body["uuid"], body["client_id"],
                                              body["client_secret"])
    return jsonify({"token": token, "token_type": "Bearer", "expires_in": expires_in})


@bp.post("/courier/certificates")
@courier_required
def submit_certificate() -> Response:
    raw_key = request.headers.get("Idempotency-Key")
    if raw_key is not None and not IDEMPOTENCY_KEY_RE.fullmatch(raw_key):
        return errors.error_response(
            400, "idempotency.invalid_key", "The Idempotency-Key header must be 1 to "
            f"{courier_api.MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.")
    body = check_certificate_body(json_body())
    submission = courier_api.submit_certificate(_current(), body, idempotency_key=raw_key)
    response = jsonify(presenters.accepted(submission.order, submission.warnings))
    response.status_code = 202
    response.headers["Location"] = presenters.status_url(submission.order)
    if submission.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/courier/certificates:batch")
@batch_courier_required
def submit_certificates_batch() -> Response:
    """1 to MAX_BATCH requests, each answered as the single endpoint would (200 with one
    result per request, in order); a malformed batch is refused whole."""
    if request.headers.get("Idempotency-Key") is not None:
        raise ServiceError("A batch takes no Idempotency-Key header: give each request "
                           "its own 'idempotency_key'.", code="idempotency.batch_header",
                           field="Idempotency-Key")
    items = check_batch_body(_batch_body())
    return jsonify(presenters.batch(courier_api.submit_many(_current(), items)))


@bp.post("/courier/certificates/<certificate_id>/renew")
@courier_required
def renew_certificate(certificate_id: str) -> Response:
    body = check_renewal_body(json_body() if request.get_data(cache=True) else {})
    submission = courier_api.renew_certificate(_current(), certificate_id, body)
    response = jsonify(presenters.accepted(submission.order, submission.warnings))
    response.status_code = 202
    response.headers["Location"] = presenters.status_url(submission.order)
    return response


@bp.get("/courier/orders/<order_id>")
@courier_required
def get_order(order_id: str) -> Response:
    order = courier_api.order_for(_current(), order_id)
    certificate = order.certificate
    key = courier_keys.take(certificate) \
        if certificate is not None and certificate.key_went_to_courier else None
    return jsonify(presenters.order(order, key))


@bp.get("/courier/certificates/<certificate_id>")
@courier_required
def get_certificate(certificate_id: str) -> Response:
    return jsonify(presenters.certificate(courier_api.certificate_for(_current(),
                                                                      certificate_id)))


PEM_TYPES = ("application/x-pem-file", "application/pem-certificate-chain", "text/plain")


@bp.post("/courier/discovery/import")
@courier_required
def discovery_import() -> Response:
    """Import certificates into the inventory as discovered: a PEM body, or
    ``{"pem": "…"}``. A private key anywhere refuses the whole body (422)."""
    if request.mimetype in PEM_TYPES:
        data = request.get_data(cache=False)
    else:
        data = check_discovery_body(json_body())["pem"].encode()
    courier = _current()
    results = discovery_import_service.import_certificates(
        data, actor_label=f"courier {courier.name}", origin="api")
    return jsonify(presenters.discovery_import(results))


@bp.post("/courier/certificates/<certificate_id>/revoke")
@courier_required
def revoke_certificate(certificate_id: str) -> Response:
    """200 when revoked (Local PKI), 202 while an external CA is asked."""
    certificate = courier_api.certificate_for(_current(), certificate_id)
    body = check_body(json_body(), REVOKE)
    result = revocation.revoke_certificate(certificate, body["reason"],
                                           actor_label=f"courier {_current().name}")
    response = jsonify(result.as_dict())
    response.status_code = 200 if result.status == revocation.REVOKED else 202
    return response


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi.document())
