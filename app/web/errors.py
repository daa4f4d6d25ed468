"""Error handlers registered once: a page, or a fragment for htmx. Internal error text is
never shown to the client."""
from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.services.errors import ServiceError
from app.web.htmx import is_htmx

log = logging.getLogger(__name__)

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


def _render(status: int, message: str) -> tuple[str, int]:
    template = "errors/_fragment.html" if is_htmx() else "errors/error.html"
    return render_template(template, status=status, message=message), status


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not is_htmx()


def render_service_error(error: ServiceError) -> Response:
    """A ServiceError as JSON (``{"error": {code, message, field}}``) for a client that
    asks for JSON, an error fragment for htmx, or a page — with its status and, when
    set, ``Retry-After``. The message is written for users; nothing internal leaks."""
    db.session.rollback()
    if _wants_json():
        response = jsonify({"error": {"code": error.code, "message": error.message,
                                      "field": error.field}})
        response.status_code = error.status
    else:
        template = "errors/_fragment.html" if is_htmx() else "errors/error.html"
        response = make_response(render_template(template, status=error.status,
                                                 message=error.message, code=error.code),
                                 error.status)
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    response.headers["Vary"] = "HX-Request, Accept"
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ServiceError, render_service_error)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return _render(400, CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        return _render(code, MESSAGES.get(code, error.description or "Error."))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[str, int]:
        db.session.rollback()
        log.exception("unhandled error")
        return _render(500, MESSAGES[500])
