"""Error handlers, registered once for the whole app.

- ``ServiceError`` (the root every use case raises for an ordinary "no") is rendered by
  ONE handler: JSON for the API and for clients that ask for JSON, an error fragment for
  htmx, a page otherwise — with the error's status, stable ``code`` and ``Retry-After``.
  Views therefore let ``NotFound`` & co. propagate instead of wrapping them.
- HTTP errors and unexpected exceptions: a page or fragment (``install_fallback`` in the
  API blueprint turns them into JSON under ``/api/``). Internal error text is never shown.

JSON shape (the couriers' API documents it): ``{"error": {"code", "message", "details":
[{"field", "code", "message", "policy"}]}}``."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.domain.policy import Violation
from app.extensions import db
from app.services.errors import ServiceError
from app.web.htmx import is_htmx

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have permission to open this page.",
    404: "There is nothing here. It may have been removed, or you may not have access to it.",
    405: "That action is not allowed here.",
    413: "The data you sent is too large.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side. The error has been logged.",
}
CSRF_MESSAGE = ("Your form could not be accepted because its security token is missing or "
                "has expired. Reload the page and try again.")
BEARER_CHALLENGE = 'Bearer realm="courier-api"'


def _render(status: int, message: str) -> tuple[str, int]:
    template = "errors/_fragment.html" if is_htmx() else "errors/error.html"
    return render_template(template, status=status, message=message), status


def wants_json() -> bool:
    if request.path.startswith(API_PREFIX):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not is_htmx()


def detail(v: Violation) -> dict[str, Any]:
    return {"field": v.field, "code": v.code, "message": v.message, "policy": v.policy}


def json_error(status: int, code: str, message: str, details: Iterable[Violation] = (),
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


def _service_error_json(error: ServiceError, headers: dict[str, str]) -> Response:
    violations = getattr(error, "violations", None)
    if violations:
        many = len(violations) > 1
        message = (f"The request has {len(violations)} problems; see details." if many
                   else violations[0].message)
        code = error.code if error.code == "request.invalid" else "request.rejected"
        return json_error(error.status, code, message, violations, headers)
    details = [Violation(code=error.code, message=error.message, field=error.field)] \
        if error.status == 422 else []
    return json_error(error.status, error.code, error.message, details, headers)


def render_service_error(error: ServiceError) -> Response:
    """The one rendering of a ServiceError (see the module docstring)."""
    db.session.rollback()
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    if wants_json():
        return _service_error_json(error, headers)
    template = "errors/_fragment.html" if is_htmx() else "errors/error.html"
    response = make_response(render_template(template, status=error.status,
                                             message=error.message, code=error.code),
                             error.status)
    response.headers.update(headers)
    response.headers["Vary"] = "HX-Request, Accept"
    return response


def unexpected(error: Exception) -> tuple[str, int] | Response:
    db.session.rollback()
    log.exception("unhandled error")
    if request.path.startswith(API_PREFIX):
        return json_error(500, "internal_error", MESSAGES[500])
    return _render(500, MESSAGES[500])


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ServiceError, render_service_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return _render(400, CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        return _render(code, MESSAGES.get(code, error.description or "Error."))

    app.register_error_handler(Exception, unexpected)
