"""Admin → ACME Servers in the browser: create (with an error first), edit, save
unchanged, add an account (error first, credentials shown once, not cached), disable it."""
from __future__ import annotations

import time

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.extensions import db
from app.models import AcmeAccount, AcmeServer, CertificateAuthority
from tests.builders import add_domain, count, issuing_ca
from tests.conftest import make_user
from tests.e2e.test_admin_pki_flow import log_in, open_admin_menu

pytestmark = pytest.mark.e2e


def _wait_active(app: Flask, ca_id: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        with app.app_context():
            ca = db.session.get(CertificateAuthority, __import__("uuid").UUID(ca_id))
            ok = ca is not None and ca.status == "active"
            db.session.remove()
        if ok:
            return
        assert time.monotonic() < deadline, "the intermediate did not become active"
        time.sleep(0.2)


def test_acme_server_and_account_forms(app: Flask, page: Page, jobs) -> None:
    add_domain(app, "example.com")
    issuer = issuing_ca(app, jobs)
    _wait_active(app, issuer)
    make_user(app, "deploy@example.com", role="deployment_admin")
    log_in(page, "deploy@example.com")
    open_admin_menu(page, "ACME Servers")
    expect(page.get_by_text("No ACME servers yet.")).to_be_visible()
    page.get_by_role("button", name="New ACME server").click()

    page.get_by_label("Name", exact=True).fill("Fleet ACME")
    page.get_by_label("Issuing intermediate").select_option(issuer)
    page.get_by_label("Maximum validity (days)").fill("900")
    page.get_by_role("button", name="Create ACME server").click()
    expect(page.get_by_text("1 to 825 days.")).to_be_visible()
    assert count(app, AcmeServer) == 0

    page.get_by_label("Maximum validity (days)").fill("397")
    page.get_by_role("button", name="Create ACME server").click()
    expect(page.get_by_text("Created ACME server 'Fleet ACME'")).to_be_visible()
    expect(page.locator("#directory-url")).to_contain_text("/directory")

    page.get_by_role("button", name="Save").click()                   # unchanged
    expect(page.get_by_text("Saved ACME server 'Fleet ACME'.")).to_be_visible()
    page.get_by_label("Default validity (days)").fill("30")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_label("Default validity (days)")).to_have_value("30")

    page.get_by_role("button", name="New account").click()
    page.get_by_label("Name", exact=True).fill("web-fleet")
    page.get_by_label("Contact e-mail").fill("ops@example.com")
    page.get_by_label("Domain bindings").fill("nowhere.test")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("is not a registered domain")).to_be_visible()
    assert count(app, AcmeAccount) == 0
    page.get_by_label("Domain bindings").fill("example.com:wildcard")
    with page.expect_response(lambda r: r.url.endswith("/accounts/new")
                              and r.request.method == "POST") as created:
        page.get_by_role("button", name="Create account").click()
    assert created.value.headers["cache-control"] == "no-store"
    key = page.locator("#eab-hmac-key").inner_text()
    assert len(key) >= 40
    kid = page.locator("#eab-kid").inner_text()
    # The certbot line as the admin copies it: --option=value, whatever a value starts with.
    expect(page.locator("pre code")).to_contain_text(f"--eab-kid={kid} --eab-hmac-key={key}")
    page.get_by_role("button", name="Back to the server").click()
    row = page.locator("tr", has_text="web-fleet")
    expect(row).to_contain_text("waiting for its client")
    assert key not in page.content()
    row.get_by_role("button", name="Disable").click()
    expect(page.locator("tr", has_text="web-fleet")).to_contain_text("disabled")
    with app.app_context():
        assert AcmeAccount.query.one().enabled is False
