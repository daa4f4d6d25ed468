"""One view, two renderings: the full page, or only its partial for an htmx request."""
from __future__ import annotations

from typing import Any

from flask import Response, make_response, render_template, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-History-Restore-Request") != "true"


def render_page(page: str, partial: str | None = None, status: int = 200,
                **context: Any) -> Response:
    """Render ``partial`` for htmx requests (not history restores), else ``page``.
    Always sends ``Vary: HX-Request`` so caches keep the two apart."""
    template = partial if partial and is_htmx() else page
    response = make_response(render_template(template, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def one_time_page(template: str, **context: Any) -> Response:
    """An HTML page that shows a secret once (a client secret, a one-time password): kept
    out of every cache, including the browser's back/forward history."""
    response = no_store(make_response(render_template(template, **context)))
    response.headers["Pragma"] = "no-cache"
    return response
