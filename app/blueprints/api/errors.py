"""JSON errors for the API: ``{"error": {"code", "message", "details": [...]}}`` with the
right status, for every failure under ``/api/`` — never an HTML page, never a traceback.

Service errors are rendered by the app's one handler (``app/web/errors.py``), which
answers JSON under ``/api/``. This module adds the API's wording of HTTP errors, for the
blueprint's views and — through ``install_fallback`` — for errors raised before a view is
chosen (an unknown path, a method the route does not allow)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from app.web.errors import API_PREFIX, detail, json_error, unexpected

__all__ = ["detail", "error_response", "install_fallback", "register"]

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

error_response = json_error


def _from_http(error: HTTPException) -> Response:
    status = error.code or 500
    code, message = HTTP_ERRORS.get(status, (f"http_{status}", error.name))
    if error.description and error.description != type(error).description:
        message = error.description  # one of ours, written for the client
    headers = {k: v for k, v in error.get_headers() if k.lower() == "allow"}
    return json_error(status, code, message, headers=headers)


def register(bp: Blueprint) -> None:
    bp.register_error_handler(HTTPException, _from_http)


def install_fallback(app: Flask) -> None:
    """Call after the app's own handlers are registered."""
    handlers = app.error_handler_spec.setdefault(None, {}).setdefault(None, {})
    original = handlers.get(HTTPException)
    if original is not None:
        handlers[HTTPException] = _api_aware(original, _from_http)
    handlers.setdefault(Exception, unexpected)


def _api_aware(original: Callable[[Any], Any],
               json_handler: Callable[[Any], Response]) -> Callable[[Any], Any]:
    def handler(error: Any) -> Any:
        if request.path.startswith(API_PREFIX):
            return json_handler(error)
        return original(error)

    handler.__wrapped__ = original  # type: ignore[attr-defined]
    return handler
