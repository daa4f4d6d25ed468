"""Pages that show a secret once render as HTML in the browser and are never cached:
the courier's client secret (on create and on rotate) and a user's one-time password."""
from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Page, Response, expect

from app.services import couriers
from app.services.errors import ServiceError
from tests.builders import add_domain
from tests.conftest import make_user
from tests.e2e.test_admin_pki_flow import log_in

pytestmark = pytest.mark.e2e


def assert_one_time_html(response: Response) -> None:
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"


def shown_secret(page: Page) -> str:
    """The secret as the page displays it: rendered, not raw markup."""
    secret = page.locator("#courier-client-secret")
    expect(secret).to_be_visible()
    expect(page.get_by_text("Copy the client secret now")).to_be_visible()
    assert "<code" not in page.locator("body").inner_text()
    return secret.inner_text()


def authenticates(app: Flask, courier_id: str, client_id: str, secret: str) -> bool:
    with app.app_context():
        try:
            couriers.authenticate(courier_id, client_id, secret)
        except ServiceError:
            return False
    return True


def test_courier_secret_pages_are_html_and_not_stored(app: Flask, page: Page) -> None:
    add_domain(app, "example.com")
    make_user(app)
    log_in(page, "admin@example.com")
    page.goto("/couriers/new")
    page.get_by_label("Name").fill("web-01")
    page.get_by_label("example.com").check()
    with page.expect_response(lambda r: r.url.endswith("/couriers/new")
                              and r.request.method == "POST") as created:
        page.get_by_role("button", name="Create courier").click()
    assert_one_time_html(created.value)
    expect(page.get_by_role("heading", name="Created courier web-01")).to_be_visible()
    first = shown_secret(page)
    courier_id = page.locator("#courier-uuid").inner_text()
    client_id = page.locator("#courier-client-id").inner_text()
    assert authenticates(app, courier_id, client_id, first)

    page.get_by_role("button", name="Courier details").click()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: r.url.endswith("/rotate-secret")) as rotated:
        page.get_by_role("button", name="Rotate secret").click()
    assert_one_time_html(rotated.value)
    expect(page.get_by_role("heading", name="New secret for web-01")).to_be_visible()
    second = shown_secret(page)
    assert second != first
    assert authenticates(app, courier_id, client_id, second)
    assert not authenticates(app, courier_id, client_id, first)


def test_one_time_password_page_is_html_and_not_stored(app: Flask, page: Page) -> None:
    make_user(app)
    log_in(page, "admin@example.com")
    page.goto("/admin/users/new")
    page.get_by_label("E-mail").fill("new.user@example.com")
    with page.expect_response(lambda r: r.url.endswith("/admin/users/new")
                              and r.request.method == "POST") as created:
        page.get_by_role("button", name="Create user").click()
    assert_one_time_html(created.value)
    expect(page.locator("#one-time-password")).to_be_visible()
