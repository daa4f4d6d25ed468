"""The one ServiceError handler (app/web/errors.py): the same error becomes a page, an htmx
fragment or JSON by who asks, always with its status, stable code and Retry-After."""
from __future__ import annotations

import pytest
from flask import Flask

from app import create_app
from app.services.errors import ServiceError


class Busy(ServiceError):
    status = 503


@pytest.fixture
def app_with_a_failing_view(test_settings: dict[str, str]) -> Flask:
    application = create_app({**test_settings, "TESTING": True})

    @application.get("/_test/busy")
    def busy():
        raise Busy("The queue is busy; try again shortly.", code="queue.busy", retry_after=7)

    @application.get("/api/v1/_test/busy")
    def api_busy():
        raise Busy("The queue is busy; try again shortly.", code="queue.busy", retry_after=7)

    return application


def test_a_page_an_htmx_fragment_and_json_carry_status_code_and_retry_after(
        app_with_a_failing_view: Flask) -> None:
    client = app_with_a_failing_view.test_client()

    page = client.get("/_test/busy")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "7"
    assert page.mimetype == "text/html"
    body = page.get_data(as_text=True)
    assert "The queue is busy; try again shortly." in body
    assert "<html" in body.lower()

    fragment = client.get("/_test/busy", headers={"HX-Request": "true"})
    assert fragment.status_code == 503
    assert fragment.headers["Retry-After"] == "7"
    text = fragment.get_data(as_text=True)
    assert "The queue is busy; try again shortly." in text
    assert "<html" not in text.lower()  # a fragment to swap in, not a whole page
    assert "HX-Request" in fragment.headers["Vary"]

    as_json = client.get("/_test/busy", headers={"Accept": "application/json"})
    assert as_json.status_code == 503
    assert as_json.headers["Retry-After"] == "7"
    assert as_json.get_json() == {"error": {"code": "queue.busy", "details": [],
                                            "message": "The queue is busy; try again shortly."}}

    api = client.get("/api/v1/_test/busy")
    assert api.status_code == 503
    assert api.headers["Retry-After"] == "7"
    assert api.get_json()["error"]["code"] == "queue.busy"
