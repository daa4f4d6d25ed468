"""Security features as a browser sees them: Account → Sessions ends another browser's
session; the confirmation prompts (data-confirm, handled by app.js because the
Content-Security-Policy forbids inline handlers) still ask before a destructive post."""
from __future__ import annotations

import pytest
from flask import Flask
from playwright.sync_api import Browser, Dialog, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from tests.api.conftest import make_courier
from tests.builders import add_domain
from tests.conftest import make_user
from tests.e2e.browser_helpers import csp_refusals
from tests.e2e.conftest import page_in_new_context
from tests.e2e.test_admin_pki_flow import log_in

pytestmark = pytest.mark.e2e


def test_the_sessions_page_ends_another_browsers_session(
        app: Flask, page: Page, browser: Browser, live_server: str,
        request: pytest.FixtureRequest) -> None:
    make_user(app, "alice@example.com", role="user")
    laptop_pages = page_in_new_context(browser, live_server, request,
                                       user_agent="Alice's laptop")
    laptop = next(laptop_pages)
    try:
        log_in(laptop, "alice@example.com")
        log_in(page, "alice@example.com")
        refused = csp_refusals(page)
        user_menu = page.locator("header ul.mainnav details").last
        user_menu.locator("summary").click()
        user_menu.get_by_role("link", name="Sessions").click()
        rows = page.locator("#sessions tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("tr.current")).to_contain_text("this browser")
        other = rows.filter(has_text="Alice's laptop")
        other.get_by_role("button", name="End session").click()
        expect(page.locator(".flash")).to_contain_text("that browser is signed out")
        expect(rows).to_have_count(1)

        laptop.reload()
        expect(laptop).to_have_url(f"{live_server}/login?next=%2F")
        page.reload()
        expect(page.locator("#sessions tbody tr")).to_have_count(1)
        assert refused == []
    finally:
        next(laptop_pages, None)


def test_a_confirmation_prompt_still_guards_rotating_a_secret(app: Flask, page: Page) -> None:
    add_domain(app, "example.com")
    make_user(app)
    courier = make_courier(app, "edge-proxy")
    log_in(page, "admin@example.com")
    refused = csp_refusals(page)
    page.goto(f"/couriers/{courier.id}")
    prompts: list[str] = []

    def answer(accept: bool):
        def handle(dialog: Dialog) -> None:
            prompts.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        return handle

    page.once("dialog", answer(False))
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("button", name="Rotate secret")).to_be_visible()
    assert prompts and "Rotate the secret of edge-proxy" in prompts[0]
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "courier.rotate_secret")) is None

    page.once("dialog", answer(True))
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.locator("body")).to_contain_text("secret")
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "courier.rotate_secret")) is not None
    assert len(prompts) == 2 and refused == []
