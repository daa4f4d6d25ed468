"""JSON errors for the API: ``{"error": {"code", "message", "details": [...]}}`` with the
right status, for every failure under ``/api/`` — never an HTML page, never a traceback.

The blueprint's handlers cover errors raised in its views; ``install_fallback`` wraps the
app's generic handlers so that errors raised before a view is chosen (an unknown path, a
method the route does not allow) are JSON under ``/api/`` too and pages elsewhere."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from app.domain.policy import Violation
from app.extensions import db
from app.services.errors import ServiceError

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
BEARER_CHALLENGE = 'Bearer realm="courier-api"'

HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("request.bad_request", "The request could not be understood."),
    401: ("auth.required", "Authentication is required."),
    403: ("forbidden", "This courier may not do that."),
    404: ("not_found", "There is no such resource."),
    405: ("method_not_allowed", "This method is not allowed on this resource."),
    413: ("request.too_large", "The request body is larger than the limit."),
    415: ("request.unsupported_media_type", "Send the body as application/json."),
    422: ("request.invalid", "The request is not valid."),
    429: ("rate_limited", "Too many requests; retry later."),
    500: ("internal_error", "Something went wrong on our side. The error has been logged."),
}


def detail(v: Violation) -> dict[str, Any]:
    return {"field": v.field, "code": v.code, "message": v.message, "policy": v.policy}


def error_response(status: int, code: str, message: str,
                   details: Iterable[Violation] = (),
                   headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message,
                                  "details": [detail(v) for v in details]}})
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", BEARER_CHALLENGE)
    return response


def _from_http(error: HTTPException) -> Response:
    status = error.code or 500
    code, message = HTTP_ERRORS.get(status, (f"http_{status}", error.name))
    if error.description and error.description != type(error).description:
        message = error.description  # one of ours, written for the client
    headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    return error_response(status, code, message, headers=headers)


def _from_service(error: ServiceError) -> Response:
    violations = getattr(error, "violations", None)
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if violations:
        many = len(violations) > 1
        message = (f"The request has {len(violations)} problems; see details." if many
                   else violations[0].message)
        code = error.code if error.code == "request.invalid" else "request.rejected"
        return error_response(error.status, code, message, violations, headers)
    details = [Violation(code=error.code, message=error.message, field=error.field)] \
        if error.status == 422 else []
    return error_response(error.status, error.code, error.message, details, headers)


def _unexpected(error: Exception) -> Response:
    db.session.rollback()
    log.exception("unhandled API error")
    return error_response(500, *HTTP_ERRORS[500])


def register(bp: Blueprint) -> None:
    bp.register_error_handler(ServiceError, _from_service)
    bp.register_error_handler(HTTPException, _from_http)
    bp.register_error_handler(Exception, _unexpected)


def install_fallback(app: Flask) -> None:
    """Call after the app's own handlers are registered."""
    handlers = app.error_handler_spec.setdefault(None, {}).setdefault(None, {})
    for exc_class, json_handler in ((HTTPException, _from_http), (Exception, _unexpected)):
        original = handlers.get(exc_class)
        if original is not None:
            handlers[exc_class] = _api_aware(original, json_handler)


def _api_aware(original: Callable[[Any], Any],
               json_handler: Callable[[Any], Response]) -> Callable[[Any], Any]:
    def handler(error: Any) -> Any:
        if request.path.startswith(API_PREFIX):
            return json_handler(error)
        return original(error)

    handler.__wrapped__ = original  # type: ignore[attr-defined]
    return handler
